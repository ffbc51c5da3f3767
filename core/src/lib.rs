//! # switchboard-core
//!
//! The deterministic simulator behind Switchboard. Pure Rust: no clock, no I/O, no web APIs.
//! The same scenario and seed produce the same events, bit for bit, natively and in wasm.
//!
//! ## The run loop
//!
//! ```
//! use switchboard_core::{Scenario, Sim, SimTime, trace};
//!
//! let scenario = Scenario::from_json(r#"{
//!     "version": 1, "seed": 7,
//!     "nodes": [
//!         {"id": "orders", "kind": "producer", "config": {"rate_per_s": 20}},
//!         {"id": "audit", "kind": "sink"}
//!     ],
//!     "edges": [{"from": "orders", "to": "audit", "latency": "30ms"}]
//! }"#).expect("a valid scenario");
//!
//! let mut sim = Sim::new(&scenario).unwrap();
//! sim.advance_to(SimTime(1_000_000)); // one simulated second
//! let events: Vec<_> = sim.drain_events().collect();
//! for e in &events {
//!     println!("{}", trace::event_line(e, sim.topology()));
//! }
//! sim.check_conservation().expect("nothing vanishes");
//! assert!(sim.totals().consumed > 0);
//! ```
//!
//! ## Modules
//!
//! - [`time`]: `SimTime` and `SimDuration`, integer microseconds.
//! - [`rng`] and [`dist`]: the one seeded RNG, and duration distributions over it.
//! - [`agenda`]: the `(time, seq)` event queue.
//! - [`message`]: the shared envelope.
//! - [`ledger`]: every message's fate, and the conservation check's bookkeeping.
//! - [`scenario`]: the versioned document format and its diagnostics.
//! - `kernel` (private): the shared state and the kinds of no paradigm (producers, relays,
//!   sinks); [`model`]: the seam where each paradigm plugs in, and the rules written once.
//! - [`amqp`]: the RabbitMQ model: exchanges, queues, consumers, dead-lettering.
//! - [`sim`]: the state machine ([`Sim`]), driving the kernel and the models.
//! - [`inspect`]: one message looked up for an inspector ([`Sim::locate`]).
//! - [`trace`]: NDJSON output and the trace hash.
//! - [`traces`]: distributed traces (spans per correlation id) and their OTLP/JSON export.
//! - [`fixtures`]: scenario builders for benchmarks and tests.
//! - [`examples`]: the built-in example scenarios of `docs/examples/`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No wildcard arms over enums (node kinds, models, agenda entries, events): a new kind or
// model must make the compiler point at every match that has to learn it. Matchers over data
// (topic words, header values) opt out where they stand, saying why.
#![deny(clippy::wildcard_enum_match_arm)]

pub mod agenda;
pub mod amqp;
pub mod bullmq;
pub mod command;
pub mod data;
pub mod dist;
pub mod event;
pub mod examples;
pub mod fixtures;
pub mod fuzzing;
pub mod handler;
pub mod http;
pub mod id;
pub mod inspect;
pub mod kafka;
mod kernel;
pub mod ledger;
pub mod message;
pub mod model;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod time;
pub mod topology;
pub mod tour;
pub mod trace;
pub mod traces;

pub use amqp::{ConsumerMetrics, QueueMetrics};
pub use command::{Command, CommandError, Edit};
pub use event::{Event, EventKind};
pub use id::{EdgeId, MessageId, NodeId};
pub use inspect::{DeliveryView, JobDetailView, MessageLocation, MessageView, RecordView};
pub use ledger::{DropReason, Fate, FateTotals};
pub use message::{Envelope, HeaderValue, Headers, MessageTemplate};
pub use scenario::{Diagnostic, Diagnostics, Scenario};
pub use sim::{
    Advance, ConservationError, Metrics, ModelMetrics, NodeMetrics, NodeStats, ReplayError, Sim,
};
pub use time::{SimDuration, SimTime};
