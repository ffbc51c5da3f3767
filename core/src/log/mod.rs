//! The Kafka model, in progress: so far the rules that need no state, as pure functions checked
//! against Kafka's own test vectors and the documented assignments. The topics, producers,
//! consumer groups and the partition-log view that use them are still to come (issue 15).
//!
//! - [`partitioner`]: the default partitioner's key hashing (murmur2, `toPositive`, modulo).
//! - [`assignor`]: the range and round-robin partition assignors.

pub mod assignor;
pub mod partitioner;
