//! Builders shared by the tests of handlers across paradigms and of their traces.

use serde_json::{json, Value};

/// A payment published at 0 to `payments` (1 ms), delivered to `payer` (1 ms), processed
/// 10 ms; payer's handler runs `add` (an `add_job` step to `emails`, 2 ms each way), whose job
/// `mailer` works (1 ms away, 5 ms of work) and whose handler writes `sent` under the job's
/// order.
pub fn receipts(add: Value) -> Value {
    json!({"version": 10, "seed": 1,
        "nodes": [
            {"id": "shop", "kind": "producer", "config": {}},
            {"id": "payments", "kind": "queue", "config": {}},
            {"id": "payer", "kind": "consumer", "config": {
                "processing": "10ms", "handler": [add]}},
            {"id": "emails", "kind": "job_queue"},
            {"id": "mailer", "kind": "worker", "config": {
                "processing_time": "5ms",
                "handler": [{"write": "sent", "key": "mail:{header.order}"}]}},
            {"id": "sent", "kind": "store", "config": {}}],
        "edges": [
            {"from": "shop", "to": "payments", "latency": "1ms"},
            {"from": "payments", "to": "payer", "latency": "1ms"},
            {"from": "payer", "to": "emails", "latency": "2ms"},
            {"from": "emails", "to": "mailer", "latency": "1ms"},
            {"from": "mailer", "to": "sent", "latency": "1ms"}],
        "actions": [
            {"at": "0s", "do": "publish", "node": "shop",
             "message": {"headers": {"order": "A-1"}}}]})
}
