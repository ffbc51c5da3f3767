//! Dead-letter history: the `x-death` header and the dead-letter cycle rule (`docs/amqp.md`, "Dead-lettering").

use crate::message::{Envelope, HeaderValue, Headers};
use crate::time::SimTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a message was dead-lettered, as `x-death` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeathReason {
    /// `basic.reject` or `basic.nack` with `requeue=false`.
    Rejected,
    /// Its TTL ran out.
    Expired,
    /// A length limit pushed it out (drop-head) or refused it (reject-publish-dlx).
    Maxlen,
    /// A quorum queue's delivery limit was exceeded.
    DeliveryLimit,
}

impl DeathReason {
    /// The reason as it appears in `x-death`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeathReason::Rejected => "rejected",
            DeathReason::Expired => "expired",
            DeathReason::Maxlen => "maxlen",
            DeathReason::DeliveryLimit => "delivery_limit",
        }
    }
}

/// One `x-death` entry: the history of one `{queue, reason}` pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Death {
    /// The queue the message died in.
    pub queue: String,
    /// Why.
    pub reason: DeathReason,
    /// How many times it died in this queue for this reason.
    pub count: u64,
    /// When it first died so (`time`, whole seconds of simulated time).
    pub time_s: u64,
    /// The exchange it had been published to before its first death for this pair.
    pub exchange: String,
    /// Its routing keys then, CC included.
    pub routing_keys: Vec<String>,
    /// Its per-message TTL then, if it had one (`original-expiration`).
    pub original_expiration: Option<u64>,
}

impl Death {
    /// The entry as an AMQP table, keys sorted as RabbitMQ sorts them.
    pub fn to_table(&self) -> HeaderValue {
        let mut t = BTreeMap::new();
        t.insert("count".into(), HeaderValue::Int(self.count as i64));
        t.insert(
            "reason".into(),
            HeaderValue::Str(self.reason.as_str().into()),
        );
        t.insert("queue".into(), HeaderValue::Str(self.queue.clone()));
        t.insert("time".into(), HeaderValue::Int(self.time_s as i64));
        t.insert("exchange".into(), HeaderValue::Str(self.exchange.clone()));
        t.insert(
            "routing-keys".into(),
            HeaderValue::Array(
                self.routing_keys
                    .iter()
                    .map(|k| HeaderValue::Str(k.clone()))
                    .collect(),
            ),
        );
        if let Some(ttl) = self.original_expiration {
            t.insert(
                "original-expiration".into(),
                HeaderValue::Str(ttl.to_string()),
            );
        }
        HeaderValue::Table(t)
    }
}

/// The routing keys of a message (`mc` annotation `routing_keys`): its routing key, the `CC`
/// header's values and the `BCC` values taken off at the broker's door. A dead-letter routing key
/// replaces them all.
pub fn routing_key_refs(msg: &Envelope) -> Vec<&str> {
    let mut keys = vec![msg.routing_key.as_str()];
    if !msg.keys_replaced {
        keys.extend(cc(&msg.headers));
        keys.extend(msg.bcc.iter().map(String::as_str));
    }
    keys
}

/// The routing keys `x-death` records: as [`routing_key_refs`], without the BCC values.
pub fn recorded_keys(msg: &Envelope) -> Vec<String> {
    let mut keys = vec![msg.routing_key.clone()];
    if !msg.keys_replaced {
        keys.extend(cc(&msg.headers).map(str::to_owned));
    }
    keys
}

/// True when a message routes by more than its routing key.
pub fn has_extra_keys(msg: &Envelope) -> bool {
    !msg.keys_replaced && (!msg.bcc.is_empty() || msg.headers.contains_key("CC"))
}

fn cc(headers: &Headers) -> impl Iterator<Item = &str> {
    let items: &[HeaderValue] = match headers.get("CC") {
        Some(HeaderValue::Array(items)) => items,
        _ => &[],
    };
    items.iter().filter_map(HeaderValue::as_str)
}

/// Takes the `BCC` header off a message entering the broker, keeping its values as routing keys
/// (`mc_amqpl:init`): no binding and no consumer sees it.
pub fn take_bcc(msg: &mut Envelope) {
    if let Some(HeaderValue::Array(items)) = msg.headers.remove("BCC") {
        msg.bcc = items
            .into_iter()
            .filter_map(HeaderValue::into_string)
            .collect();
    }
}

/// Records a death of `msg` in `queue` for `reason` at `now`, as `mc:record_death/3` does:
/// a repeated `{queue, reason}` pair counts up and moves to the front; a new one is added at the
/// front with the message's current exchange, routing keys and TTL. Then rewrites the `x-death`,
/// `x-first-death-*` and `x-last-death-*` headers.
/// `exchange` is the name of `msg.exchange`.
pub fn record(msg: &mut Envelope, queue: &str, reason: DeathReason, now: SimTime, exchange: &str) {
    let existing = msg
        .deaths
        .iter()
        .position(|d| d.queue == queue && d.reason == reason);
    let entry = match existing {
        Some(i) => {
            let mut d = msg.deaths.remove(i);
            d.count += 1;
            d
        }
        None => Death {
            queue: queue.to_owned(),
            reason,
            count: 1,
            time_s: now.0 / 1_000_000,
            exchange: exchange.to_owned(),
            routing_keys: recorded_keys(msg),
            original_expiration: msg.expiration_ms,
        },
    };
    let first = msg.deaths.is_empty() && existing.is_none();
    msg.deaths.insert(0, entry);
    let h = &mut msg.headers;
    let s = |v: &str| HeaderValue::Str(v.to_owned());
    if first {
        h.insert("x-first-death-reason".into(), s(reason.as_str()));
        h.insert("x-first-death-queue".into(), s(queue));
        h.insert("x-first-death-exchange".into(), s(exchange));
    }
    h.insert("x-last-death-reason".into(), s(reason.as_str()));
    h.insert("x-last-death-queue".into(), s(queue));
    h.insert("x-last-death-exchange".into(), s(exchange));
    h.insert(
        "x-death".into(),
        HeaderValue::Array(msg.deaths.iter().map(Death::to_table).collect()),
    );
}

/// The dead-letter cycle rule (`rabbit_dead_letter:detect_cycles/3`): true if delivering a
/// message just dead-lettered for `reason`, with history `deaths` (most recent first, the
/// current death included), to `target` would close a cycle with no rejection in it.
pub fn is_cycle(deaths: &[Death], reason: DeathReason, target: &str) -> bool {
    if reason == DeathReason::Rejected {
        return false;
    }
    match deaths.iter().position(|d| d.queue == target) {
        None => false,
        Some(i) => deaths[..=i]
            .iter()
            .all(|d| d.reason != DeathReason::Rejected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::MessageId;
    use crate::message::MessageTemplate;

    fn msg() -> Envelope {
        Envelope::from_template(
            MessageId(1),
            &MessageTemplate {
                routing_key: "k".into(),
                expiration: Some("500".into()),
                ..MessageTemplate::default()
            },
            SimTime(0),
        )
    }

    #[test]
    fn a_repeated_pair_counts_up_and_moves_to_the_front() {
        let mut m = msg();
        record(&mut m, "q1", DeathReason::Expired, SimTime(2_500_000), "x");
        record(
            &mut m,
            "q2",
            DeathReason::Rejected,
            SimTime(3_000_000),
            "dlx",
        );
        record(
            &mut m,
            "q1",
            DeathReason::Expired,
            SimTime(9_000_000),
            "dlx",
        );
        let pairs: Vec<_> = m
            .deaths
            .iter()
            .map(|d| (d.queue.as_str(), d.count))
            .collect();
        assert_eq!(pairs, [("q1", 2), ("q2", 1)]);
        assert_eq!(
            m.deaths[0].time_s, 2,
            "time is the first death's, in seconds"
        );
        assert_eq!(m.deaths[0].exchange, "x", "exchange is the first death's");
        assert_eq!(m.deaths[0].original_expiration, Some(500));
        assert_eq!(
            m.headers["x-first-death-queue"],
            HeaderValue::Str("q1".into())
        );
        assert_eq!(
            m.headers["x-last-death-reason"],
            HeaderValue::Str("expired".into())
        );
        assert_eq!(
            m.headers["x-last-death-exchange"],
            HeaderValue::Str("dlx".into())
        );
    }

    #[test]
    fn cycles_are_cut_only_when_no_rejection_is_in_them() {
        let d = |q: &str, r| Death {
            queue: q.into(),
            reason: r,
            count: 1,
            time_s: 0,
            exchange: String::new(),
            routing_keys: vec![],
            original_expiration: None,
        };
        use DeathReason::*;
        let expired_only = [d("q1", Expired)];
        assert!(is_cycle(&expired_only, Expired, "q1"));
        assert!(!is_cycle(&expired_only, Expired, "q2"));
        assert!(!is_cycle(&expired_only, Rejected, "q1"));
        let with_rejection = [d("q2", Expired), d("q1", Rejected)];
        assert!(!is_cycle(&with_rejection, Expired, "q1"));
        assert!(is_cycle(&with_rejection, Expired, "q2"));
    }
}
