//! Scenario builders shared by benchmarks (native and wasm) and tests.

use crate::scenario::Scenario;

/// A Poisson producer at `rate_per_s` feeding `relays` relays in a chain (1 ms links,
/// exponential 2 ms holds) into a sink. The kernel benchmark's workload.
pub fn relay_chain(relays: usize, rate_per_s: u32) -> Scenario {
    let mut nodes = vec![format!(
        r#"{{"id":"p","kind":"producer","config":{{"rate_per_s":{rate_per_s},"arrival":"poisson"}}}}"#
    )];
    let mut edges = Vec::new();
    let mut prev = "p".to_string();
    for i in 0..relays {
        nodes.push(format!(
            r#"{{"id":"r{i}","kind":"relay","config":{{"delay":{{"dist":"exponential","mean":"2ms"}}}}}}"#
        ));
        edges.push(format!(
            r#"{{"from":"{prev}","to":"r{i}","latency":"1ms"}}"#
        ));
        prev = format!("r{i}");
    }
    nodes.push(r#"{"id":"s","kind":"sink"}"#.into());
    edges.push(format!(r#"{{"from":"{prev}","to":"s","latency":"1ms"}}"#));
    let doc = format!(
        r#"{{"version":1,"name":"relay chain","seed":1,"nodes":[{}],"edges":[{}]}}"#,
        nodes.join(","),
        edges.join(",")
    );
    Scenario::from_json(&doc).expect("a valid chain")
}

/// Runs one simulated second of `scenario` in 16 ms slices, draining events after each slice as
/// the page does per frame. Returns the events processed (steps).
pub fn run_one_second_in_frames(scenario: &Scenario) -> u64 {
    let mut sim = crate::Sim::new(scenario).expect("valid");
    let mut drained = 0usize;
    for frame in 1..=63u64 {
        sim.advance_to(crate::SimTime(frame * 16_000));
        drained += sim.drain_events().len();
    }
    sim.advance_to(crate::SimTime(1_000_000));
    drained += sim.drain_events().len();
    std::hint::black_box(drained);
    sim.steps()
}

/// The AMQP pipeline benchmark's workload: a Poisson producer at `rate_per_s` publishing
/// `order.created.eu` to a topic exchange bound to three classic queues
/// (`order.#`, `*.created.*`, `#.eu`), so every message is routed to all three; each queue
/// has one consumer (prefetch 100) that processes for 1 µs and acks. Links are 100 µs.
pub fn amqp_pipeline(rate_per_s: u32) -> Scenario {
    let doc = format!(
        r##"{{"version":1,"name":"amqp pipeline","seed":1,
        "nodes":[
          {{"id":"p","kind":"producer","config":{{"rate_per_s":{rate_per_s},
            "message":{{"routing_key":"order.created.eu","body_bytes":512}}}}}},
          {{"id":"orders","kind":"exchange","config":{{"type":"topic"}}}},
          {{"id":"billing","kind":"queue"}},
          {{"id":"shipping","kind":"queue"}},
          {{"id":"audit","kind":"queue"}},
          {{"id":"c1","kind":"consumer","config":{{"prefetch_count":100,"processing":"1us"}}}},
          {{"id":"c2","kind":"consumer","config":{{"prefetch_count":100,"processing":"1us"}}}},
          {{"id":"c3","kind":"consumer","config":{{"prefetch_count":100,"processing":"1us"}}}}
        ],
        "edges":[
          {{"from":"p","to":"orders","latency":"100us"}},
          {{"from":"orders","to":"billing","routing_key":"order.#"}},
          {{"from":"orders","to":"shipping","routing_key":"*.created.*"}},
          {{"from":"orders","to":"audit","routing_key":"#.eu"}},
          {{"from":"billing","to":"c1","latency":"100us"}},
          {{"from":"shipping","to":"c2","latency":"100us"}},
          {{"from":"audit","to":"c3","latency":"100us"}}
        ]}}"##
    );
    Scenario::from_json(&doc).expect("a valid pipeline")
}

/// A topology grown to about `nodes` nodes, as a user growing a scenario would: chains of
/// producer → direct exchange → queue → consumer (each producer at `rate_per_s / chains`
/// messages per second, so the total rate stays `rate_per_s` whatever the size), laid out on a
/// grid. The scaling benchmark's workload (`core/examples/scaling.rs`).
pub fn grown(nodes: usize, rate_per_s: f64) -> Scenario {
    let chains = (nodes / 4).max(1);
    let rate = rate_per_s / chains as f64;
    let mut n = Vec::with_capacity(chains * 4);
    let mut e = Vec::with_capacity(chains * 3);
    for c in 0..chains {
        let (x, y) = ((c % 50) as f64 * 800.0, (c / 50) as f64 * 120.0);
        n.push(format!(
            r#"{{"id":"p{c}","kind":"producer","position":{{"x":{x},"y":{y}}},"config":{{"rate_per_s":{rate},"arrival":"poisson","message":{{"routing_key":"k{c}"}}}}}}"#
        ));
        n.push(format!(
            r#"{{"id":"x{c}","kind":"exchange","position":{{"x":{},"y":{y}}},"config":{{"type":"direct"}}}}"#,
            x + 200.0
        ));
        n.push(format!(
            r#"{{"id":"q{c}","kind":"queue","position":{{"x":{},"y":{y}}}}}"#,
            x + 400.0
        ));
        n.push(format!(
            r#"{{"id":"c{c}","kind":"consumer","position":{{"x":{},"y":{y}}},"config":{{"prefetch_count":10,"processing":{{"dist":"exponential","mean":"20us"}}}}}}"#,
            x + 600.0
        ));
        e.push(format!(r#"{{"from":"p{c}","to":"x{c}","latency":"1ms"}}"#));
        e.push(format!(
            r#"{{"from":"x{c}","to":"q{c}","routing_key":"k{c}"}}"#
        ));
        e.push(format!(r#"{{"from":"q{c}","to":"c{c}","latency":"1ms"}}"#));
    }
    let doc = format!(
        r#"{{"version":2,"name":"grown to {nodes} nodes","seed":1,"nodes":[{}],"edges":[{}]}}"#,
        n.join(","),
        e.join(",")
    );
    Scenario::from_json(&doc).expect("a valid grown topology")
}

/// 5,000 messages a second through exchange `x` to queue `work`, consumed by `worker`, and one
/// message published at 10 ms to queue `parked`, which nobody consumes (as `orders.dlq` holds
/// one in the dead-letter example). The flat-memory test's and the scaling benchmark's
/// workload.
pub fn parked_and_busy() -> Scenario {
    Scenario::from_json(
        r#"{"version":2,"name":"parked","seed":7,
        "nodes":[
          {"id":"p","kind":"producer","config":{"rate_per_s":5000,"arrival":"poisson","message":{"routing_key":"work"}}},
          {"id":"x","kind":"exchange","config":{"type":"direct"}},
          {"id":"work","kind":"queue"},
          {"id":"parked","kind":"queue"},
          {"id":"worker","kind":"consumer","config":{"prefetch_count":50,"processing":"50us"}},
          {"id":"once","kind":"producer","config":{"rate_per_s":0,"message":{"routing_key":"parked"}}}
        ],
        "edges":[
          {"from":"p","to":"x","latency":"1ms"},
          {"from":"x","to":"work","routing_key":"work"},
          {"from":"x","to":"parked","routing_key":"parked"},
          {"from":"work","to":"worker","latency":"1ms"},
          {"from":"once","to":"x","latency":"1ms"}
        ],
        "actions":[{"at":"10ms","do":"publish","node":"once","message":{"routing_key":"parked"}}]}"#,
    )
    .expect("valid")
}

/// The request-response benchmark's workload: `docs/examples/http-metastable-retry.json`,
/// Stability Sim's reference workload (a Poisson client at 70/s, a 1 s timeout and 3 immediate
/// retries, round robin over two services of 5 workers, one crashing from 5 s to 10 s).
pub fn http_metastable() -> Scenario {
    Scenario::from_json(crate::examples::get("http-metastable-retry").expect("an example"))
        .expect("valid")
}

/// Runs `scenario` for `seconds` simulated seconds in 16 ms slices, draining events after each
/// slice as the page does per frame. Returns the steps (agenda entries handled).
pub fn run_in_frames(scenario: &Scenario, seconds: u64) -> u64 {
    let mut sim = crate::Sim::new(scenario).expect("valid");
    let mut drained = 0usize;
    let end = seconds * 1_000_000;
    let mut t = 0;
    while t < end {
        t = (t + 16_000).min(end);
        sim.advance_to(crate::SimTime(t));
        drained += sim.drain_events().len();
    }
    std::hint::black_box(drained);
    sim.steps()
}

/// The Kafka pipeline benchmark's workload: a producer of keyed 1 KB records (10,000 keys) at
/// `rate_per_s`, a topic of 12 partitions keeping 100 MB each (`retention.bytes`, in 10 MB
/// segments, checked every second), and a group of 4 consumers polling up to 500 records,
/// processing each in 1 µs and committing every 100 records. Links are 100 µs.
pub fn kafka_pipeline(rate_per_s: u32) -> Scenario {
    let consumer = r#"{"group.id":"pipeline","auto.offset.reset":"earliest","max.poll.records":500,
        "enable.auto.commit":false,"commit_every":100,"processing_time":"1us",
        "group.initial.rebalance.delay.ms":0}"#;
    let doc = format!(
        r#"{{"version":5,"name":"kafka pipeline","seed":1,
        "nodes":[
          {{"id":"p","kind":"kafka_producer","config":{{"rate_per_s":{rate_per_s},
            "keys":{{"random":10000}},"value_bytes":1000}}}},
          {{"id":"t","kind":"topic","config":{{"partitions":12,"retention.bytes":100000000,
            "segment.bytes":10000000,"log.retention.check.interval.ms":1000}}}},
          {{"id":"c1","kind":"kafka_consumer","config":{consumer}}},
          {{"id":"c2","kind":"kafka_consumer","config":{consumer}}},
          {{"id":"c3","kind":"kafka_consumer","config":{consumer}}},
          {{"id":"c4","kind":"kafka_consumer","config":{consumer}}}
        ],
        "edges":[
          {{"from":"p","to":"t","latency":"100us"}},
          {{"from":"t","to":"c1","latency":"100us"}},
          {{"from":"t","to":"c2","latency":"100us"}},
          {{"from":"t","to":"c3","latency":"100us"}},
          {{"from":"t","to":"c4","latency":"100us"}}
        ]}}"#
    );
    Scenario::from_json(&doc).expect("a valid pipeline")
}

/// The BullMQ job pipeline benchmark's workload: `rate_per_s` jobs added per second by four
/// producers in equal shares (no priority, priority 5, priority 10, and a delay of 100 ms), each
/// job with three attempts and an exponential backoff of 50 ms and `removeOnComplete: 1000`;
/// four workers at concurrency 10, each attempt taking 20 ms, one in ten throwing. Links are
/// 100 µs.
pub fn bullmq_pipeline(rate_per_s: u32) -> Scenario {
    let share = f64::from(rate_per_s) / 4.0;
    let producer = |id: &str, extra: &str| {
        format!(
            r#"{{"id":"{id}","kind":"job_producer","config":{{"rate_per_s":{share},
            "opts":{{"attempts":3,"backoff":{{"type":"exponential","delay":50}},
              "removeOnComplete":1000{extra}}}}}}}"#
        )
    };
    let worker = |id: &str| {
        format!(
            r#"{{"id":"{id}","kind":"worker","config":{{"concurrency":10,
            "processing_time":"20ms","fail_rate":0.1}}}}"#
        )
    };
    let doc = format!(
        r#"{{"version":6,"name":"bullmq pipeline","seed":1,
        "nodes":[{},{},{},{},{{"id":"q","kind":"job_queue"}},{},{},{},{}],
        "edges":[
          {{"from":"plain","to":"q","latency":"100us"}},
          {{"from":"p5","to":"q","latency":"100us"}},
          {{"from":"p10","to":"q","latency":"100us"}},
          {{"from":"later","to":"q","latency":"100us"}},
          {{"from":"q","to":"w1","latency":"100us"}},
          {{"from":"q","to":"w2","latency":"100us"}},
          {{"from":"q","to":"w3","latency":"100us"}},
          {{"from":"q","to":"w4","latency":"100us"}}
        ]}}"#,
        producer("plain", ""),
        producer("p5", r#","priority":5"#),
        producer("p10", r#","priority":10"#),
        producer("later", r#","delay":100"#),
        worker("w1"),
        worker("w2"),
        worker("w3"),
        worker("w4"),
    );
    Scenario::from_json(&doc).expect("a valid pipeline")
}
