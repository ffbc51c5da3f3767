//! The built-in examples, by name: the documents in `docs/examples/`, compiled in.

/// `(name, title, document)` for each example; `?example=name` opens one.
pub const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "amqp-alternate-exchange",
        "AMQP: alternate exchange",
        include_str!("../../../docs/examples/amqp-alternate-exchange.json"),
    ),
    (
        "amqp-consumer-crash",
        "AMQP: consumer crash and redelivery",
        include_str!("../../../docs/examples/amqp-consumer-crash.json"),
    ),
    (
        "amqp-consumer-priority",
        "AMQP: consumer priority",
        include_str!("../../../docs/examples/amqp-consumer-priority.json"),
    ),
    (
        "amqp-dead-letter",
        "AMQP: dead-lettering a poison message",
        include_str!("../../../docs/examples/amqp-dead-letter.json"),
    ),
    (
        "amqp-dead-letter-cycle",
        "AMQP: dead-letter cycles",
        include_str!("../../../docs/examples/amqp-dead-letter-cycle.json"),
    ),
    (
        "amqp-exchange-to-exchange",
        "AMQP: exchange-to-exchange bindings",
        include_str!("../../../docs/examples/amqp-exchange-to-exchange.json"),
    ),
    (
        "amqp-exchange-types",
        "AMQP: direct, fanout, topic and headers exchanges",
        include_str!("../../../docs/examples/amqp-exchange-types.json"),
    ),
    (
        "amqp-live-edit",
        "AMQP: live edits of queues and bindings",
        include_str!("../../../docs/examples/amqp-live-edit.json"),
    ),
    (
        "amqp-mandatory-return",
        "AMQP: mandatory and basic.return",
        include_str!("../../../docs/examples/amqp-mandatory-return.json"),
    ),
    (
        "amqp-max-length",
        "AMQP: max-length, drop-head vs reject-publish",
        include_str!("../../../docs/examples/amqp-max-length.json"),
    ),
    (
        "amqp-prefetch-round-robin",
        "AMQP: prefetch and round-robin among competing consumers",
        include_str!("../../../docs/examples/amqp-prefetch-round-robin.json"),
    ),
    (
        "amqp-priority-queue",
        "AMQP: classic priority queue",
        include_str!("../../../docs/examples/amqp-priority-queue.json"),
    ),
    (
        "amqp-publisher-confirms",
        "AMQP: publisher confirms and a reject-publish nack",
        include_str!("../../../docs/examples/amqp-publisher-confirms.json"),
    ),
    (
        "amqp-queue-deletion",
        "AMQP: auto-delete, x-expires and exclusive queues",
        include_str!("../../../docs/examples/amqp-queue-deletion.json"),
    ),
    (
        "amqp-quorum-delivery-limit",
        "AMQP: quorum queue delivery limit",
        include_str!("../../../docs/examples/amqp-quorum-delivery-limit.json"),
    ),
    (
        "amqp-single-active-consumer",
        "AMQP: single active consumer failover",
        include_str!("../../../docs/examples/amqp-single-active-consumer.json"),
    ),
    (
        "amqp-ttl",
        "AMQP: per-queue and per-message TTL",
        include_str!("../../../docs/examples/amqp-ttl.json"),
    ),
    (
        "amqp-ttl-expired-delivery",
        "AMQP: an expired message can still be delivered",
        include_str!("../../../docs/examples/amqp-ttl-expired-delivery.json"),
    ),
    (
        "crash-restart",
        "A relay crashes and restarts",
        include_str!("../../../docs/examples/crash-restart.json"),
    ),
    (
        "hello",
        "Hello, switchboard",
        include_str!("../../../docs/examples/hello.json"),
    ),
    (
        "relay-chain",
        "Relay chain with a fan-out",
        include_str!("../../../docs/examples/relay-chain.json"),
    ),
    (
        "stress-50-nodes",
        "Stress: 50 nodes, about 2,000 messages in flight",
        include_str!("../../../docs/examples/stress-50-nodes.json"),
    ),
];

/// The document of the example called `name`.
pub fn get(name: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|e| e.0 == name).map(|e| e.2)
}

/// An empty document: the canvas a newcomer starts from.
pub const EMPTY: &str = r#"{"version":2,"name":"Untitled","seed":1,"nodes":[],"edges":[]}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Scenario;

    #[test]
    fn every_example_loads_in_the_editor() {
        assert!(EXAMPLES.len() >= 20);
        for (name, _, doc) in EXAMPLES {
            let s = Scenario::from_json(doc).unwrap_or_else(|d| panic!("{name}: {d}"));
            crate::editor::Session::new(&s).unwrap_or_else(|d| panic!("{name}: {d}"));
        }
        assert!(Scenario::from_json(EMPTY).unwrap().nodes.is_empty());
        assert!(get("hello").is_some() && get("nope").is_none());
    }
}
