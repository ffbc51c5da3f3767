//! The RabbitMQ (AMQP 0-9-1) model: exchanges, bindings, queues and consumers, rule for rule as
//! RabbitMQ's source code has them. See `docs/amqp.md` for what is modelled and what is not.
//!
//! - [`kind`]: the model's node kinds ([`AmqpKind`]), and [`config`]: their settings, under
//!   RabbitMQ's names.
//! - [`topic`] and [`headers`]: the matchers of topic and headers exchanges.
//! - [`queue`]: a queue's message store, limits and TTL.
//! - [`death`]: `x-death` and the dead-letter cycle rule.
//! - [`event`]: the model's events ([`AmqpEvent`]).
//! - [`definitions`]: import and export of the management plugin's `definitions.json`.
//! - `model` (private): the model's state, agenda entries and hooks ([`crate::model`]).
//! - `route_index` (private): each exchange's bindings indexed by what they match.
//! - `rules` (crate): its rules: edges, actions, live reconfigure, validation.
//! - `broker` (private): the behaviour, as methods of the model acting through the kernel.
//! - `trace` (crate): its events' fields on trace lines ([`crate::trace::write_event`]).

mod broker;
pub mod config;
pub mod death;
pub mod definitions;
pub mod event;
pub mod headers;
pub mod kind;
mod model;
pub mod pattern;
pub mod policy;
mod policy_apply;
pub mod queue;
mod route_index;
pub(crate) mod rules;
pub mod topic;
pub(crate) mod trace;

pub(crate) use broker::Delivery;
pub use config::{
    ConsumeArguments, ConsumerConfig, ExchangeArguments, ExchangeConfig, ExchangeType, HeaderRule,
    Overflow, QueueArguments, QueueConfig, QueueType, Settlement, DEFAULT_DELIVERY_LIMIT,
};
pub use death::{Death, DeathReason};
pub use event::{AmqpEvent, DeadLetter, PolicyNames, PublishedTo, Route, SettleMethod};
pub use headers::XMatch;
pub use kind::{AmqpKind, EdgeKind, PublishStep};
pub(crate) use model::{places_in_due, AmqpModel, Due, PlaceDetail};
pub use model::{AmqpMetrics, ConsumerMetrics, QueueMetrics};
pub use topic::TopicPattern;
