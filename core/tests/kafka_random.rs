//! Randomized Kafka topologies: topics with retention and compaction, producers with lost
//! acknowledgements and retries, groups with every assignor, crashes, pauses, members added
//! live and partitions added. Conservation and the model's invariants (no partition owned
//! twice in a generation, logs consistent) are checked after every event; in the `safe`
//! shapes, no record is skipped by an at-least-once group. A failure names its seed
//! (`SWITCHBOARD_SEED=n`).

mod common;

use common::kafka::{kafka, random, run};
use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::kafka::KafkaEvent;
use switchboard_core::scenario::NodeKind;
use switchboard_core::{Scenario, SimTime};

#[test]
fn random_topologies_conserve_every_record() {
    common::sweep("kafka_random", 40, |seed| {
        let shape = random(seed, false);
        if std::env::var("SWITCHBOARD_DUMP").is_ok() {
            println!("{:#}", shape.doc);
        }
        let s = Scenario::from_json(&shape.doc.to_string())
            .unwrap_or_else(|d| panic!("invalid generated document:\n{d}\n{:#}", shape.doc));
        run(&s, SimTime(90_000_000), true);
    });
}

#[test]
fn at_least_once_groups_skip_no_record() {
    common::sweep("kafka_random", 40, |seed| {
        let shape = random(seed, true);
        if std::env::var("SWITCHBOARD_DUMP").is_ok() {
            println!("{:#}", shape.doc);
        }
        let s = Scenario::from_json(&shape.doc.to_string())
            .unwrap_or_else(|d| panic!("invalid generated document:\n{d}\n{:#}", shape.doc));
        let (events, sim) = run(&s, SimTime(200_000_000), true);
        let topo = sim.topology();
        let group_of = |c| match &topo.node(c).kind {
            NodeKind::Kafka(switchboard_core::kafka::KafkaKind::Consumer(cfg)) => {
                cfg.group_id.clone()
            }
            _ => unreachable!("a consumer"),
        };
        // Every record appended, per partition; every record processed, per group.
        let mut appended: BTreeMap<(u32, u32), BTreeSet<u64>> = BTreeMap::new();
        let mut processed: BTreeMap<String, BTreeSet<(u32, u32, u64)>> = BTreeMap::new();
        let mut reads: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for (_, e) in kafka(&events) {
            match e {
                KafkaEvent::Appended(a) => {
                    appended
                        .entry((a.tp.0 .0, a.tp.1))
                        .or_default()
                        .insert(a.offset);
                }
                KafkaEvent::Processed {
                    consumer,
                    tp,
                    offset,
                    ..
                } => {
                    processed
                        .entry(group_of(*consumer))
                        .or_default()
                        .insert((tp.0 .0, tp.1, *offset));
                }
                KafkaEvent::Assigned {
                    consumer,
                    partitions,
                    ..
                } => {
                    for tp in partitions.iter() {
                        reads
                            .entry(group_of(*consumer))
                            .or_default()
                            .insert(tp.0 .0);
                    }
                }
                _ => {}
            }
        }
        for g in &shape.at_least_once {
            let Some(topics) = reads.get(g) else { continue };
            let done = processed.get(g).cloned().unwrap_or_default();
            for ((t, p), offsets) in &appended {
                if !topics.contains(t) {
                    continue;
                }
                for o in offsets {
                    assert!(
                        done.contains(&(*t, *p, *o)),
                        "group {g} never processed {}-{p} offset {o}",
                        topo.node(switchboard_core::NodeId(*t)).name
                    );
                }
            }
        }
    });
}
