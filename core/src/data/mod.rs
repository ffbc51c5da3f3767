//! The data model: stores (key-value databases) that handlers' steps read and write, and
//! read models (stores projected from another).
//!
//! A write crosses the edge from the service, takes the store's `write_latency`, and is
//! applied at the end of it: the key's next version, remembering the message that wrote it.
//! A store counts the writes that apply the same logical message twice (duplicates: what
//! at-least-once delivery and retries do to data), and keeps the idempotency keys that writes
//! bring, to skip the ones it has seen (`docs/consistency.md`). A read returns the key's
//! version when it is served; it is stale if a writer had already been told of a newer one,
//! a read-your-writes violation if its own chain had. A read model (`projection_of`) shows
//! its source's versions as handlers write them into it, and measures each version's
//! staleness window.
//!
//! - [`kind`]: the `store` kind, its settings, the edge kind, and the `write` step.
//! - [`template`]: key templates, `"charge:{correlation_id}"`.
//! - [`staleness`]: the distribution of staleness windows.
//! - [`event`]: what it tells ([`DataEvent`]).

pub mod event;
pub mod kind;
pub(crate) mod model;
pub(crate) mod rules;
pub mod staleness;
pub mod template;
pub(crate) mod trace;

pub use event::{DataEvent, ReadResult};
pub use kind::{DataKind, EdgeKind, ReadStep, StoreConfig, WriteStep};
pub(crate) use model::{send, Access, AccessOp, DataModel, Due, OutboxRow};
pub use model::{DataMetrics, ProjectionMetrics, StoreMetrics, StoreStats, Version};
pub use template::{Input, KeyTemplate, Missing, RecordInput, MAX_TEMPLATE_BYTES};
