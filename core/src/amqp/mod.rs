//! The RabbitMQ (AMQP 0-9-1) model: exchanges, bindings, queues and consumers, rule for rule as
//! `SEMANTICS.md` §1 sets them out. See `docs/amqp.md` for what is modelled and what is not.
//!
//! - [`config`]: the scenario settings, under RabbitMQ's names.
//! - [`topic`] and [`headers`]: the matchers of topic and headers exchanges.
//! - [`queue`]: a queue's message store, limits and TTL.
//! - [`death`]: `x-death` and the dead-letter cycle rule.
//! - [`event`]: the model's events ([`AmqpEvent`]).
//! - [`definitions`]: import and export of the management plugin's `definitions.json`.
//! - `broker` (private): the behaviour, as methods of [`crate::Sim`].

mod broker;
pub mod config;
pub mod death;
pub mod definitions;
pub mod event;
pub mod headers;
pub mod queue;
pub mod topic;

pub(crate) use broker::{AmqpNode, Delivery};
pub use config::{
    ConsumeArguments, ConsumerConfig, ExchangeArguments, ExchangeConfig, ExchangeType, HeaderRule,
    Overflow, QueueArguments, QueueConfig, QueueType, Settlement, DEFAULT_DELIVERY_LIMIT,
};
pub use death::{Death, DeathReason};
pub use event::{AmqpEvent, DeadLetter, PublishedTo, Route, SettleMethod};
pub use headers::XMatch;
pub use topic::TopicPattern;
