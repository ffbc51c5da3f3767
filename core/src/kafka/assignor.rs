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
        (Some(x), Some(y)) => java_cmp(x, y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => java_cmp(&a.member_id, &b.member_id),
    });
    v
}

/// Java's `String.compareTo`: by UTF-16 code units (it differs from Rust's byte order only
/// between characters above U+FFFF and those from U+E000 to U+FFFF).
pub fn java_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
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

/// `StickyAssignor` (eager) without its generation bookkeeping: balance first, then keep as
/// many of `previous` as balance allows. Each member keeps the previous partitions it still
/// subscribes to (the first claimer, in member order, if two claim one); the partitions left
/// go one by one, topics by name and then by number, to the subscribed member with the fewest
/// (ties in member order), which makes a fresh assignment deal like round robin; then, while a
/// member has two or more partitions more than another that could take one of them, one moves.
/// The Java assignor is a heuristic too (`AbstractStickyAssignor`): the tests check the
/// properties and the documented examples, not Java's exact lists.
pub fn sticky(
    members: &[Member],
    partitions: &BTreeMap<String, u32>,
    previous: &Assignment,
) -> Assignment {
    let order = ordered(members);
    let mut out: Vec<Vec<TopicPartition>> = vec![Vec::new(); order.len()];
    let mut owned: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    for (i, m) in order.iter().enumerate() {
        for tp in previous.get(&m.member_id).into_iter().flatten() {
            let exists = partitions.get(&tp.0).is_some_and(|&n| tp.1 < n);
            if exists && m.subscribes(&tp.0) && !owned.contains_key(tp) {
                owned.insert(tp.clone(), i);
                out[i].push(tp.clone());
            }
        }
    }
    for (topic, &n) in partitions {
        for p in 0..n {
            let tp = (topic.clone(), p);
            if owned.contains_key(&tp) {
                continue;
            }
            let best = (0..order.len())
                .filter(|&i| order[i].subscribes(topic))
                .min_by_key(|&i| (out[i].len(), i));
            if let Some(i) = best {
                owned.insert(tp.clone(), i);
                out[i].push(tp);
            }
        }
    }
    // Balance: move one partition at a time from a member with the most to one with two
    // fewer that subscribes to its topic; the sum of squares falls with each move, so it ends.
    loop {
        let mut moved = false;
        let mut by_load: Vec<usize> = (0..order.len()).collect();
        by_load.sort_by_key(|&i| (std::cmp::Reverse(out[i].len()), i));
        'search: for &a in &by_load {
            let mut takers: Vec<usize> = (0..order.len())
                .filter(|&b| out[b].len() + 2 <= out[a].len())
                .collect();
            takers.sort_by_key(|&b| (out[b].len(), b));
            for b in takers {
                if let Some(pos) = out[a].iter().rposition(|tp| order[b].subscribes(&tp.0)) {
                    let tp = out[a].remove(pos);
                    out[b].push(tp);
                    moved = true;
                    break 'search;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let mut a = empty(members);
    for (i, m) in order.iter().enumerate() {
        a.insert(m.member_id.clone(), std::mem::take(&mut out[i]));
    }
    sorted(a)
}

/// `CooperativeStickyAssignor`: the sticky assignment, less every partition that changes
/// owner between two members of the group (`adjustAssignment`). Its old owner revokes it, and
/// the rebalance that follows gives it to the new one. Returns the assignment and the
/// partitions withheld.
pub fn cooperative_sticky(
    members: &[Member],
    partitions: &BTreeMap<String, u32>,
    previous: &Assignment,
) -> (Assignment, Vec<TopicPartition>) {
    let mut a = sticky(members, partitions, previous);
    let mut was: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
    for m in members {
        for tp in previous.get(&m.member_id).into_iter().flatten() {
            was.entry(tp).or_insert(&m.member_id);
        }
    }
    let mut withheld = Vec::new();
    for (member, list) in a.iter_mut() {
        list.retain(|tp| match was.get(tp) {
            Some(&old) if old != member.as_str() => {
                withheld.push(tp.clone());
                false
            }
            _ => true,
        });
    }
    withheld.sort();
    (a, withheld)
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

    /// [CT-KAFKA-STICKY-1] (the `StickyAssignor` javadoc): C0, C1, C2 on t0..t3 with two
    /// partitions each; then C1 leaves and sticky keeps what C0 and C2 had.
    #[test]
    fn ct_kafka_sticky_1() {
        let all = ["t0", "t1", "t2", "t3"];
        let parts = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let m = [
            Member::new("C0", &all),
            Member::new("C1", &all),
            Member::new("C2", &all),
        ];
        let a = sticky(&m, &parts, &Assignment::new());
        assert_eq!(a["C0"], want(&["t0p0", "t1p1", "t3p0"]));
        assert_eq!(a["C1"], want(&["t0p1", "t2p0", "t3p1"]));
        assert_eq!(a["C2"], want(&["t1p0", "t2p1"]));
        let left = [Member::new("C0", &all), Member::new("C2", &all)];
        let b = sticky(&left, &parts, &a);
        assert_eq!(b["C0"], want(&["t0p0", "t1p1", "t2p0", "t3p0"]));
        assert_eq!(b["C2"], want(&["t0p1", "t1p0", "t2p1", "t3p1"]));
        // Round robin reshuffles instead.
        let rr = round_robin(&left, &parts);
        assert_eq!(rr["C0"], want(&["t0p0", "t1p0", "t2p0", "t3p0"]));
    }

    #[test]
    fn cooperative_sticky_withholds_what_changes_owner() {
        let parts = topics(&[("t", 4)]);
        let one = [Member::new("C0", &["t"])];
        let (a, w) = cooperative_sticky(&one, &parts, &Assignment::new());
        assert!(w.is_empty());
        assert_eq!(a["C0"].len(), 4);
        // C1 joins: two partitions must move from C0 to C1. The first round gives C1 nothing
        // and C0 keeps two; after C0 revokes, the second round gives them to C1.
        let two = [Member::new("C0", &["t"]), Member::new("C1", &["t"])];
        let (b, w) = cooperative_sticky(&two, &parts, &a);
        assert_eq!(w.len(), 2);
        assert_eq!(b["C0"].len(), 2);
        assert!(b["C1"].is_empty());
        let (c, w) = cooperative_sticky(&two, &parts, &b);
        assert!(w.is_empty());
        assert_eq!(c["C0"], b["C0"]);
        assert_eq!(c["C1"].len(), 2);
    }

    /// Sticky's properties over random groups and a random change of membership: no partition
    /// owned twice, every subscribed partition owned, balanced (no member with two or more
    /// fewer than another could take one of its partitions), and a partition kept by its
    /// previous owner unless that owner is over the most any member holds.
    #[test]
    fn sticky_properties() {
        let mut rng = crate::rng::SimRng::new(23);
        for case in 0..400 {
            let nt = rng.range_inclusive(1, 3);
            let parts: BTreeMap<String, u32> = (0..nt)
                .map(|t| (format!("t{t}"), rng.range_inclusive(1, 8) as u32))
                .collect();
            let uniform = rng.chance(0.5);
            let make = |i: u64, rng: &mut crate::rng::SimRng| Member {
                member_id: format!("m{i}"),
                instance_id: None,
                topics: parts
                    .keys()
                    .filter(|_| uniform || rng.chance(0.7))
                    .cloned()
                    .collect(),
            };
            let n = rng.range_inclusive(1, 5);
            let before: Vec<Member> = (0..n).map(|i| make(i, &mut rng)).collect();
            let first = sticky(&before, &parts, &Assignment::new());
            let mut after: Vec<Member> = before
                .iter()
                .filter(|_| rng.chance(0.75))
                .cloned()
                .collect();
            for i in 0..rng.range_inclusive(0, 2) {
                after.push(make(10 + i, &mut rng));
            }
            let second = sticky(&after, &parts, &first);
            let ctx = format!("case {case} (seed 23)");
            for (members, a) in [(&before, &first), (&after, &second)] {
                let mut owners: BTreeMap<&TopicPartition, u32> = BTreeMap::new();
                for (id, ps) in a {
                    let m = members.iter().find(|m| &m.member_id == id).unwrap();
                    for p in ps {
                        assert!(m.subscribes(&p.0), "{ctx}: {id} got {p:?}");
                        *owners.entry(p).or_default() += 1;
                    }
                }
                assert!(owners.values().all(|&c| c == 1), "{ctx}: owned twice");
                for (t, &n) in &parts {
                    if members.iter().any(|m| m.subscribes(t)) {
                        assert_eq!(
                            (0..n)
                                .filter(|p| owners.contains_key(&(t.clone(), *p)))
                                .count(),
                            n as usize,
                            "{ctx}: {t} not fully assigned"
                        );
                    }
                }
                for (x, px) in a {
                    for (y, py) in a {
                        let my = members.iter().find(|m| &m.member_id == y).unwrap();
                        if py.len() + 2 <= px.len() {
                            assert!(
                                !px.iter().any(|p| my.subscribes(&p.0)),
                                "{ctx}: {y} ({}) could take from {x} ({})",
                                py.len(),
                                px.len()
                            );
                        }
                    }
                }
            }
            if uniform && !after.is_empty() {
                // Same subscriptions: a survivor keeps min(what it had, the quota) partitions.
                let total: u32 = parts.values().sum();
                let quota = (total as usize).div_ceil(after.len());
                for m in &after {
                    let had = first.get(&m.member_id).map_or(0, Vec::len);
                    let kept = first
                        .get(&m.member_id)
                        .into_iter()
                        .flatten()
                        .filter(|p| second[&m.member_id].contains(p))
                        .count();
                    assert!(
                        kept >= had.min(quota.saturating_sub(1)),
                        "{ctx}: {} kept {kept} of {had} (quota {quota})",
                        m.member_id
                    );
                }
            }
        }
    }
}
