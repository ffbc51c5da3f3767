//! The data model: stores (key-value databases) that services' handler steps write.
//!
//! A write crosses the edge from the service, takes the store's `write_latency`, and is
//! applied at the end of it: the key's next version, remembering the message that wrote it.
//! A store counts the writes that apply the same logical message twice (duplicates: what
//! at-least-once delivery and retries do to data), and keeps the idempotency keys that writes
//! bring, to skip the ones it has seen (`docs/consistency.md`).
//!
//! - [`kind`]: the `store` kind, its settings, the edge kind, and the `write` step.
//! - [`template`]: key templates, `"charge:{correlation_id}"`.
//! - [`event`]: what it tells ([`DataEvent`]).

pub mod event;
pub mod kind;
pub(crate) mod model;
pub(crate) mod rules;
pub mod template;
pub(crate) mod trace;

pub use event::DataEvent;
pub use kind::{DataKind, EdgeKind, StoreConfig, WriteStep};
pub(crate) use model::{send, DataModel, Due, OutboxRow, Write};
pub use model::{DataMetrics, StoreMetrics, StoreStats, Version};
pub use template::{KeyTemplate, Missing, MAX_TEMPLATE_BYTES};
