//! Kafka's range and round-robin partition assignors (`RangeAssignor`, `RoundRobinAssignor`,
//! non-rack-aware), as pure functions of the group's members, their subscriptions and the
//! topics' partition counts.
//!
//! Members are ordered as `AbstractPartitionAssignor.MemberInfo.compareTo` orders them: static
//! members (with a `group.instance.id`) first, by instance id, then the others by member id.
//! Each member's assignment is returned sorted by topic, then partition.

use std::collections::BTreeMap;

/// A group member as an assignor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its `member.id`.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub instance_id: Option<String>,
    /// The topics it subscribes to.
    pub topics: Vec<String>,
}

impl Member {
    /// A dynamic member subscribing to `topics`.
    pub fn new(member_id: &str, topics: &[&str]) -> Member {
        Member {
            member_id: member_id.to_owned(),
            instance_id: None,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn subscribes(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

/// A partition: its topic and its number.
pub type TopicPartition = (String, u32);

/// Each member's partitions, by member id.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// The members in the assignors' order: static members by instance id, then the others by
/// member id.
pub fn ordered(members: &[Member]) -> Vec<&Member> {
    let mut v: Vec<&Member> = members.iter().collect();
    v.sort_by(|a, b| match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    });
    v
}

fn empty(members: &[Member]) -> Assignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

fn sorted(mut a: Assignment) -> Assignment {
    for v in a.values_mut() {
        v.sort();
    }
    a
}

/// `RangeAssignor`: for each topic on its own, its subscribers in order, and `n` partitions:
/// with `q, r = n / c, n % c`, subscriber `i` gets the next `q + (i < r)` partitions in order.
/// The skew adds up across topics: the first members get an extra partition on every topic.
pub fn range(members: &[Member], partitions: &BTreeMap<String, u32>) -> Assignment {
    let order = ordered(members);
    let mut out = empty(members);
    for (topic, &n) in partitions {
        let subs: Vec<&&Member> = order.iter().filter(|m| m.subscribes(topic)).collect();
        if subs.is_empty() {
            continue;
        }
        let c = subs.len() as u32;
        let (q, r) = (n / c, n % c);
        let mut next = 0;
        for (i, m) in subs.iter().enumerate() {
            let take = q + u32::from((i as u32) < r);
            let list = out.get_mut(&m.member_id).expect("every member has a list");
            list.extend((next..next + take).map(|p| (topic.clone(), p)));
            next += take;
        }
    }
    sorted(out)
}

/// `RoundRobinAssignor`: the partitions of every subscribed topic, topics by name and then by
/// number, dealt in turn to the members in order, skipping a member not subscribed to the
/// partition's topic.
pub fn round_robin(members: &[Member], partitions: &BTreeMap<String, u32>) -> Assignment {
    let order = ordered(members);
    let mut out = empty(members);
    if order.is_empty() {
        return out;
    }
    let mut at = 0usize;
    for (topic, &n) in partitions {
        if !order.iter().any(|m| m.subscribes(topic)) {
            continue;
        }
        for p in 0..n {
            while !order[at % order.len()].subscribes(topic) {
                at += 1;
            }
            let m = order[at % order.len()];
            out.get_mut(&m.member_id)
                .expect("every member has a list")
                .push((topic.clone(), p));
            at += 1;
        }
    }
    sorted(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(ts: &[(&str, u32)]) -> BTreeMap<String, u32> {
        ts.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    }

    fn tp(s: &str) -> TopicPartition {
        let (t, p) = s.split_once('p').expect("tNpM");
        (t.to_owned(), p.parse().expect("a number"))
    }

    fn want(ps: &[&str]) -> Vec<TopicPartition> {
        ps.iter().map(|s| tp(s)).collect()
    }

    #[test]
    fn ct_kafka_range_1_the_skew_adds_up_across_topics() {
        let m = [
            Member::new("C0", &["t0", "t1"]),
            Member::new("C1", &["t0", "t1"]),
        ];
        let a = range(&m, &topics(&[("t0", 3), ("t1", 3)]));
        assert_eq!(a["C0"], want(&["t0p0", "t0p1", "t1p0", "t1p1"]));
        assert_eq!(a["C1"], want(&["t0p2", "t1p2"]));
    }

    #[test]
    fn ct_kafka_range_2_seven_partitions_over_three() {
        let m = [
            Member::new("C0", &["t"]),
            Member::new("C1", &["t"]),
            Member::new("C2", &["t"]),
        ];
        let a = range(&m, &topics(&[("t", 7)]));
        assert_eq!(a["C0"], want(&["tp0", "tp1", "tp2"]));
        assert_eq!(a["C1"], want(&["tp3", "tp4"]));
        assert_eq!(a["C2"], want(&["tp5", "tp6"]));
    }

    #[test]
    fn ct_kafka_rr_1_two_members_two_topics() {
        let m = [
            Member::new("C0", &["t0", "t1"]),
            Member::new("C1", &["t0", "t1"]),
        ];
        let a = round_robin(&m, &topics(&[("t0", 3), ("t1", 3)]));
        assert_eq!(a["C0"], want(&["t0p0", "t0p2", "t1p1"]));
        assert_eq!(a["C1"], want(&["t0p1", "t1p0", "t1p2"]));
    }

    #[test]
    fn ct_kafka_rr_2_members_with_different_subscriptions() {
        let m = [
            Member::new("C0", &["t0"]),
            Member::new("C1", &["t0", "t1"]),
            Member::new("C2", &["t0", "t1", "t2"]),
        ];
        let a = round_robin(&m, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]));
        assert_eq!(a["C0"], want(&["t0p0"]));
        assert_eq!(a["C1"], want(&["t1p0"]));
        assert_eq!(a["C2"], want(&["t1p1", "t2p0", "t2p1", "t2p2"]));
    }

    #[test]
    fn static_members_come_first_by_instance_id() {
        let mut b = Member::new("a-member", &["t"]);
        b.instance_id = Some("z-instance".into());
        let mut c = Member::new("z-member", &["t"]);
        c.instance_id = Some("a-instance".into());
        let d = Member::new("0-member", &["t"]);
        let m = [b, c, d];
        let ids: Vec<&str> = ordered(&m).iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(ids, ["z-member", "a-member", "0-member"]);
        let a = range(&m, &topics(&[("t", 3)]));
        assert_eq!(a["z-member"], want(&["tp0"]));
        assert_eq!(a["0-member"], want(&["tp2"]));
    }

    #[test]
    fn every_partition_is_assigned_once_to_a_subscriber() {
        // A sweep of group shapes: each subscribed partition has exactly one owner, who
        // subscribes to its topic, and range's counts differ by at most one per topic.
        let mut rng = crate::rng::SimRng::new(11);
        for case in 0..300 {
            let nt = rng.range_inclusive(1, 4);
            let parts: BTreeMap<String, u32> = (0..nt)
                .map(|t| (format!("t{t}"), rng.range_inclusive(1, 9) as u32))
                .collect();
            let nm = rng.range_inclusive(1, 5);
            let members: Vec<Member> = (0..nm)
                .map(|i| Member {
                    member_id: format!("m{i}"),
                    instance_id: None,
                    topics: parts.keys().filter(|_| rng.chance(0.7)).cloned().collect(),
                })
                .collect();
            for (name, a) in [
                ("range", range(&members, &parts)),
                ("round_robin", round_robin(&members, &parts)),
            ] {
                let mut owners: BTreeMap<TopicPartition, usize> = BTreeMap::new();
                for (id, ps) in &a {
                    let m = members.iter().find(|m| &m.member_id == id).unwrap();
                    for p in ps {
                        assert!(m.subscribes(&p.0), "case {case} {name}: {id} got {p:?}");
                        *owners.entry(p.clone()).or_default() += 1;
                    }
                }
                for (t, &n) in &parts {
                    let subscribed = members.iter().any(|m| m.subscribes(t));
                    for p in 0..n {
                        let got = owners.get(&(t.clone(), p)).copied().unwrap_or(0);
                        assert_eq!(got, usize::from(subscribed), "case {case} {name}: {t}p{p}");
                    }
                }
            }
        }
    }
}
