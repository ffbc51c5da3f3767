//! Short visual effects that explain what an event did: an exchange's matched bindings flash,
//! a dead-lettered message travels to its dead-letter exchange, a dropped or expired message
//! fades out with its reason. They live in wall-clock time (they are explanations, not
//! simulation state), so they do not take part in time travel.

use crate::scene::Scene;
use crate::view::Point;
use switchboard_core::amqp::AmqpEvent;
use switchboard_core::http::HttpEvent;
use switchboard_core::kafka::KafkaEvent;
use switchboard_core::topology::Topology;
use switchboard_core::{EdgeId, Event, EventKind, MessageId};

/// How long a binding flash lasts, in wall-clock milliseconds.
pub const FLASH_MS: f64 = 450.0;
/// How long a dead letter takes to reach its exchange.
pub const DEAD_LETTER_MS: f64 = 900.0;
/// How long a dropped message takes to fade out.
pub const FADE_MS: f64 = 1_600.0;
/// How long a partition takes to change hands in a rebalance.
pub const PARTITION_MS: f64 = 1_200.0;
/// How far apart the partitions of one rebalance set off, one behind the other.
pub const PARTITION_GAP_MS: f64 = 300.0;
/// How long a note on a partition's log (a deleted segment, a compaction) stays.
pub const LOG_NOTE_MS: f64 = 2_400.0;
/// The most effects alive at once; at high speeds the newest win.
pub const MAX_EFFECTS: usize = 400;

/// How long a job's card takes between two lanes, ms.
pub const JOB_CARD_MS: f64 = 700.0;

/// What an effect shows.
#[derive(Clone, Debug, PartialEq)]
pub enum EffectKind {
    /// A binding that matched a routing.
    Flash {
        /// The binding edge.
        edge: EdgeId,
    },
    /// A message dead-lettered from a queue, on its way to the dead-letter exchange.
    DeadLetter {
        /// The message.
        message: MessageId,
        /// The queue it died in.
        from: Point,
        /// The dead-letter exchange (or, for the default exchange, the queue it names).
        to: Point,
        /// Why it died: `rejected`, `expired`, `maxlen`, `delivery_limit`.
        reason: &'static str,
    },
    /// A message that ended without being consumed.
    Fade {
        /// The message.
        message: MessageId,
        /// Where.
        at: Point,
        /// Why, as the trace names it.
        reason: &'static str,
    },
    /// A call's attempt that failed at its caller without a message ending there: refused
    /// before it left (`breaker_open`, `bulkhead_full`, `throttled`), or given up on
    /// (`timed_out`). It fades with its reason at the caller's end of the call edge.
    Notice {
        /// Where: a little along the call edge from the caller.
        at: Point,
        /// Why, as the trace names it.
        reason: &'static str,
    },
    /// A partition changing hands in a rebalance: a chip named after it travels along the
    /// subscription from the member that gave it up to the topic (revoked), or from the topic
    /// to the member that gained it (assigned).
    Partition {
        /// Where it leaves.
        from: Point,
        /// Where it goes.
        to: Point,
        /// `orders-2`, and the generation it is assigned in.
        label: String,
        /// Assigned (true) or revoked (false).
        assigned: bool,
    },
    /// A BullMQ job's card moving between two lanes of its queue (waiting to active, active to
    /// completed, failed or delayed, delayed to waiting…).
    JobCard {
        /// The lane it leaves.
        from: Point,
        /// The lane it enters.
        to: Point,
        /// The lane it enters, as an index into the queue's lanes (its colour).
        lane: usize,
    },
    /// What a store did with a write that matters: `duplicate write` (a logical message applied
    /// a second time) or `skipped: idempotency key`. It fades above the store.
    StoreNote {
        /// Above the store.
        at: Point,
        /// The words.
        text: &'static str,
    },
    /// What retention or the cleaner did to a partition's log, in words beside its row:
    /// `segment deleted (retention.ms) · log start 120`, `compacted: 12 removed`.
    LogNote {
        /// The left end of the partition's row.
        at: Point,
        /// The words.
        text: String,
    },
}

/// One effect and when it started.
#[derive(Clone, Debug, PartialEq)]
pub struct Effect {
    /// What.
    pub kind: EffectKind,
    /// Wall-clock start, ms.
    pub born: f64,
    /// Lifetime, ms.
    pub life: f64,
}

impl Effect {
    /// How far through its life the effect is at `now` (0 to 1).
    pub fn progress(&self, now: f64) -> f64 {
        ((now - self.born) / self.life).clamp(0.0, 1.0)
    }

    /// Where the effect's dot is at `now`, if it has one.
    pub fn dot(&self, now: f64) -> Option<Point> {
        if now < self.born {
            return None; // one of a train that has not set off
        }
        let t = self.progress(now);
        match &self.kind {
            EffectKind::DeadLetter { from, to, .. } => Some(Point {
                x: from.x + (to.x - from.x) * t,
                y: from.y + (to.y - from.y) * t,
            }),
            EffectKind::Fade { at, .. }
            | EffectKind::Notice { at, .. }
            | EffectKind::StoreNote { at, .. } => Some(Point {
                x: at.x,
                y: at.y - 20.0 * t,
            }),
            EffectKind::Partition { from, to, .. } | EffectKind::JobCard { from, to, .. } => {
                // Eased, so the chip visibly leaves and arrives.
                let e = t * t * (3.0 - 2.0 * t);
                Some(Point {
                    x: from.x + (to.x - from.x) * e,
                    y: from.y + (to.y - from.y) * e,
                })
            }
            EffectKind::LogNote { at, .. } => Some(Point {
                x: at.x - 14.0 * t,
                y: at.y,
            }),
            EffectKind::Flash { .. } => None,
        }
    }

    /// Where the effect's dot is drawn at `now`: with reduced motion, it does not travel but
    /// shows where it ends (a dead letter at its exchange, a dropped message at its node).
    pub fn shown_at(&self, now: f64, reduced_motion: bool) -> Option<Point> {
        if !reduced_motion {
            return self.dot(now);
        }
        match &self.kind {
            EffectKind::DeadLetter { to, .. }
            | EffectKind::Partition { to, .. }
            | EffectKind::JobCard { to, .. } => Some(*to),
            EffectKind::Fade { at, .. }
            | EffectKind::Notice { at, .. }
            | EffectKind::StoreNote { at, .. }
            | EffectKind::LogNote { at, .. } => Some(*at),
            EffectKind::Flash { .. } => None,
        }
    }

    /// How opaque the effect is drawn at `now`: fading out over its life, or steady with
    /// reduced motion.
    pub fn alpha(&self, now: f64, reduced_motion: bool) -> f64 {
        match (&self.kind, reduced_motion) {
            (_, true) => 0.8,
            (EffectKind::DeadLetter { .. }, false) => 1.0,
            // A chip stays solid while it travels, and fades only at the end.
            (EffectKind::Partition { .. } | EffectKind::JobCard { .. }, false) => {
                ((1.0 - self.progress(now)) * 4.0).min(1.0)
            }
            (_, false) => 1.0 - self.progress(now),
        }
    }

    /// The message it is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match self.kind {
            EffectKind::DeadLetter { message, .. } | EffectKind::Fade { message, .. } => {
                Some(message)
            }
            EffectKind::Flash { .. }
            | EffectKind::Notice { .. }
            | EffectKind::Partition { .. }
            | EffectKind::JobCard { .. }
            | EffectKind::StoreNote { .. }
            | EffectKind::LogNote { .. } => None,
        }
    }

    /// Text shown on hover.
    pub fn label(&self) -> Option<String> {
        match &self.kind {
            EffectKind::DeadLetter {
                message, reason, ..
            } => Some(format!("message {} dead-lettered ({reason})", message.0)),
            EffectKind::Fade {
                message, reason, ..
            } => Some(format!("message {} dropped: {reason}", message.0)),
            EffectKind::Notice { reason, .. } => Some(format!("an attempt failed: {reason}")),
            EffectKind::Partition {
                label, assigned, ..
            } => Some(if *assigned {
                format!("partition {label} assigned")
            } else {
                format!("partition {label} revoked")
            }),
            EffectKind::LogNote { text, .. } => Some(text.clone()),
            EffectKind::StoreNote { text, .. } => Some((*text).to_string()),
            EffectKind::JobCard { lane, .. } => crate::models::bullmq::LANES
                .get(*lane)
                .map(|(name, _)| format!("a job moving to {name}")),
            EffectKind::Flash { .. } => None,
        }
    }
}

/// The live effects.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    /// Oldest first.
    pub list: Vec<Effect>,
}

/// The effects of `events`, which happened just now (`now`, wall-clock ms): what they explain
/// on the canvas. Pure: the UI state takes them in its reducer.
pub fn of_events<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    scene: &Scene,
    topo: &Topology,
    now: f64,
) -> Vec<Effect> {
    let mut out = Vec::new();
    // `delay`: a later start, so that several partitions of one rebalance travel as a train.
    let mut push = |kind, life, delay: f64| {
        out.push(Effect {
            kind,
            born: now + delay,
            life,
        })
    };
    for e in events {
        match &e.kind {
            EventKind::Amqp(AmqpEvent::Routed {
                exchange: Some(x),
                route,
                ..
            }) => {
                // The bindings it went through, as the core reports them.
                for edge in route.bindings(topo, *x) {
                    if scene.edge(edge).is_some() {
                        push(EffectKind::Flash { edge }, FLASH_MS, 0.0);
                    }
                }
            }
            EventKind::Amqp(AmqpEvent::DeadLettered {
                message,
                queue,
                reason,
                detail,
            }) => {
                let target = detail.target(topo).and_then(|n| scene.node(n));
                if let (Some(from), Some(to)) = (scene.node(*queue), target) {
                    push(
                        EffectKind::DeadLetter {
                            message: *message,
                            from,
                            to,
                            reason: reason.as_str(),
                        },
                        DEAD_LETTER_MS,
                        0.0,
                    );
                }
            }
            EventKind::Http(HttpEvent::Refused { edge, reason, .. }) => {
                if let Some(at) = near_caller(scene, *edge) {
                    push(
                        EffectKind::Notice {
                            at,
                            reason: reason.as_str(),
                        },
                        FADE_MS,
                        0.0,
                    );
                }
            }
            EventKind::Http(HttpEvent::TimedOut { edge, .. }) => {
                if let Some(at) = near_caller(scene, *edge) {
                    push(
                        EffectKind::Notice {
                            at,
                            reason: "timed_out",
                        },
                        FADE_MS,
                        0.0,
                    );
                }
            }
            EventKind::Kafka(KafkaEvent::Revoked {
                consumer,
                partitions,
            }) => {
                for (i, tp) in partitions.iter().enumerate() {
                    if let Some((topic_end, member_end)) =
                        subscription(scene, topo, tp.0, *consumer)
                    {
                        push(
                            EffectKind::Partition {
                                from: member_end,
                                to: topic_end,
                                label: format!("{}-{}", topo.node(tp.0).name, tp.1),
                                assigned: false,
                            },
                            PARTITION_MS,
                            i as f64 * PARTITION_GAP_MS,
                        );
                    }
                }
            }
            EventKind::Kafka(KafkaEvent::Assigned {
                consumer,
                partitions,
                ..
            }) => {
                for (i, tp) in partitions.iter().enumerate() {
                    if let Some((topic_end, member_end)) =
                        subscription(scene, topo, tp.0, *consumer)
                    {
                        push(
                            EffectKind::Partition {
                                from: topic_end,
                                to: member_end,
                                label: format!("{}-{}", topo.node(tp.0).name, tp.1),
                                assigned: true,
                            },
                            PARTITION_MS,
                            i as f64 * PARTITION_GAP_MS,
                        );
                    }
                }
            }
            EventKind::Kafka(KafkaEvent::SegmentDeleted {
                tp,
                records,
                log_start,
                cause,
                ..
            }) => {
                if let Some(at) = crate::models::kafka::row_start(scene, topo, tp.0, tp.1) {
                    push(
                        EffectKind::LogNote {
                            at,
                            text: format!(
                                "−{records} ({}) · log start {log_start}",
                                cause.as_str()
                            ),
                        },
                        LOG_NOTE_MS,
                        0.0,
                    );
                }
            }
            EventKind::Kafka(KafkaEvent::Compacted { tp, removed, .. }) if *removed > 0 => {
                if let Some(at) = crate::models::kafka::row_start(scene, topo, tp.0, tp.1) {
                    push(
                        EffectKind::LogNote {
                            at,
                            text: format!("compacted: −{removed}"),
                        },
                        LOG_NOTE_MS,
                        0.0,
                    );
                }
            }
            EventKind::Bullmq(b) => {
                let moved = crate::models::bullmq::card_move(b);
                if let Some((queue, from, to)) = moved {
                    let node = &topo.node(queue).kind;
                    if let (Some(c), switchboard_core::scenario::NodeKind::Bullmq(kind)) =
                        (scene.node(queue), node)
                    {
                        let at = |lane| {
                            let (x, y) = crate::models::bullmq::lane_point(kind, (c.x, c.y), lane);
                            Point { x, y }
                        };
                        push(
                            EffectKind::JobCard {
                                from: at(from),
                                to: at(to),
                                lane: to,
                            },
                            JOB_CARD_MS,
                            0.0,
                        );
                    }
                }
            }
            EventKind::Data(d) => {
                use switchboard_core::data::DataEvent;
                let (store, text) = match &**d {
                    DataEvent::Written {
                        store,
                        duplicate: true,
                        ..
                    } => (*store, "duplicate write"),
                    DataEvent::Deduplicated { store, .. } => (*store, "skipped: idempotency key"),
                    DataEvent::Read(r) if r.ryw_violation() => (r.store, "missed its own write"),
                    DataEvent::Read(r) if r.stale() => (r.store, "stale read"),
                    DataEvent::Written { .. }
                    | DataEvent::WriteSent { .. }
                    | DataEvent::ReadSent { .. }
                    | DataEvent::Read(_)
                    | DataEvent::Visible { .. } => continue,
                };
                if let Some(c) = scene.node(store) {
                    push(
                        EffectKind::StoreNote {
                            at: Point {
                                x: c.x - crate::view::NODE_HALF_W,
                                y: c.y - crate::view::NODE_HALF_H - 4.0,
                            },
                            text,
                        },
                        FADE_MS,
                        0.0,
                    );
                }
            }
            EventKind::Dropped {
                message,
                node,
                reason,
            } => {
                if let Some(at) = scene.node(*node) {
                    push(
                        EffectKind::Fade {
                            message: *message,
                            at,
                            reason: reason.as_str(),
                        },
                        FADE_MS,
                        0.0,
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// The two ends of the subscription from `topic` to `consumer`, as drawn: the topic's end
/// first.
fn subscription(
    scene: &Scene,
    topo: &Topology,
    topic: switchboard_core::NodeId,
    consumer: switchboard_core::NodeId,
) -> Option<(Point, Point)> {
    scene.edge(topo.edge_between(topic, consumer, None)?)
}

/// A point a fifth of the way along call edge `edge` from its caller.
fn near_caller(scene: &Scene, edge: EdgeId) -> Option<Point> {
    let (a, b) = scene.edge(edge)?;
    Some(Point {
        x: a.x + (b.x - a.x) * 0.2,
        y: a.y + (b.y - a.y) * 0.2,
    })
}

impl Effects {
    /// Adds the effects of `events`, which happened just now (`now`, wall-clock ms).
    pub fn add_events<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Event>,
        scene: &Scene,
        topo: &Topology,
        now: f64,
    ) {
        for e in of_events(events, scene, topo, now) {
            self.push_effect(e);
        }
    }

    /// Adds one effect: one flash per edge at a time (a busy binding stays lit rather than
    /// stacking), and at most [`MAX_EFFECTS`] (the newest win).
    pub fn push_effect(&mut self, effect: Effect) {
        // A notice already showing at that place for that reason is renewed, not stacked.
        if let EffectKind::Notice { at, reason } = effect.kind {
            if let Some(f) = self
                .list
                .iter_mut()
                .find(|f| f.kind == EffectKind::Notice { at, reason })
            {
                f.born = effect.born;
                return;
            }
        }
        if let EffectKind::StoreNote { at, text } = effect.kind {
            if let Some(f) = self
                .list
                .iter_mut()
                .find(|f| f.kind == EffectKind::StoreNote { at, text })
            {
                f.born = effect.born;
                return;
            }
        }
        // A partition's newest log note replaces the one before (retention can delete several
        // segments in a row).
        if let EffectKind::LogNote { at, .. } = &effect.kind {
            let at = *at;
            if let Some(f) = self
                .list
                .iter_mut()
                .find(|f| matches!(&f.kind, EffectKind::LogNote { at: a, .. } if *a == at))
            {
                *f = effect;
                return;
            }
        }
        if let EffectKind::Flash { edge } = effect.kind {
            if let Some(f) = self
                .list
                .iter_mut()
                .find(|f| f.kind == EffectKind::Flash { edge })
            {
                f.born = effect.born;
                return;
            }
        }
        self.list.push(effect);
        if self.list.len() > MAX_EFFECTS {
            let extra = self.list.len() - MAX_EFFECTS;
            self.list.drain(..extra);
        }
    }

    /// Forgets effects that have ended.
    pub fn prune(&mut self, now: f64) {
        self.list.retain(|e| now - e.born < e.life);
    }

    /// Forgets everything (after a seek: the effects were of another moment).
    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// The effect with a dot nearest to `at` within `radius`, for hover and click.
    pub fn hit(&self, at: Point, radius: f64, now: f64) -> Option<&Effect> {
        let dots: Vec<(usize, Point)> = self
            .list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, e.dot(now)?)))
            .collect();
        crate::view::nearest_within(dots.iter().map(|d| d.1), at, radius)
            .map(|k| &self.list[dots[k].0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editor::Session;
    use switchboard_core::Scenario;

    fn run_collecting(name: &str, frames: usize) -> (Effects, Session) {
        let path = format!(
            "{}/../docs/examples/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let s = Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut session = Session::new(&s).unwrap();
        let mut fx = Effects::default();
        session.timeline_mut().play();
        let mut seen = 0;
        for _ in 0..frames {
            session.timeline_mut().tick(50.0).unwrap();
            let scene = Scene::of(&session);
            let t = session.timeline();
            let new: Vec<Event> = t
                .log()
                .iter()
                .filter(|e| e.ordinal >= seen)
                .map(|e| e.event.clone())
                .collect();
            seen = t.derived().events_seen;
            fx.add_events(&new, &scene, t.sim().topology(), 0.0);
        }
        (fx, session)
    }

    #[test]
    fn routing_flashes_bindings_and_dead_letters_travel() {
        let (fx, _) = run_collecting("amqp-dead-letter", 200);
        assert!(fx
            .list
            .iter()
            .any(|e| matches!(e.kind, EffectKind::Flash { .. })));
        let dl = fx
            .list
            .iter()
            .find(|e| matches!(e.kind, EffectKind::DeadLetter { .. }))
            .expect("a message was dead-lettered");
        assert!(dl.label().unwrap().contains("dead-lettered"));
        assert_eq!(dl.progress(0.0), 0.0);
        assert_eq!(dl.progress(DEAD_LETTER_MS * 2.0), 1.0);
    }

    #[test]
    fn job_cards_move_down_the_lanes_of_their_queue() {
        let (fx, session) = run_collecting("bullmq-order", 200);
        let cards: Vec<&Effect> = fx
            .list
            .iter()
            .filter(|e| matches!(e.kind, EffectKind::JobCard { .. }))
            .collect();
        let lane = |e: &Effect| match e.kind {
            EffectKind::JobCard { lane, .. } => lane,
            _ => unreachable!("filtered"),
        };
        // Taken (to active, lane 3) and completed (lane 4), and none going anywhere else.
        assert!(cards.iter().any(|e| lane(e) == 3));
        assert!(cards.iter().any(|e| lane(e) == 4));
        // Within the queue's box, from a lane above to a lane below for a completion.
        let t = session.timeline();
        let q = t
            .sim()
            .topology()
            .node_id("jobs")
            .expect("the order example's queue");
        let c = Scene::of(&session).node(q).unwrap();
        for e in &cards {
            let EffectKind::JobCard { from, to, lane } = e.kind else {
                unreachable!()
            };
            assert!(
                (from.x - c.x).abs() < 120.0 && (to.y - c.y).abs() < 60.0,
                "{e:?}"
            );
            if lane == 4 {
                assert!(to.y > from.y, "active is above completed");
            }
        }
        let taken = cards.iter().find(|e| lane(e) == 3).unwrap();
        assert_eq!(taken.label().unwrap(), "a job moving to active");
    }

    #[test]
    fn reduced_motion_shows_effects_without_movement() {
        let fx = Effect {
            kind: EffectKind::DeadLetter {
                message: MessageId(1),
                from: Point { x: 0.0, y: 0.0 },
                to: Point { x: 100.0, y: 0.0 },
                reason: "rejected",
            },
            born: 0.0,
            life: DEAD_LETTER_MS,
        };
        assert_eq!(fx.shown_at(0.0, false), Some(Point { x: 0.0, y: 0.0 }));
        assert_ne!(
            fx.shown_at(300.0, false),
            fx.shown_at(600.0, false),
            "it travels"
        );
        assert_eq!(fx.shown_at(0.0, true), Some(Point { x: 100.0, y: 0.0 }));
        assert_eq!(
            fx.shown_at(300.0, true),
            fx.shown_at(600.0, true),
            "it holds still"
        );
        let flash = Effect {
            kind: EffectKind::Flash { edge: EdgeId(0) },
            born: 0.0,
            life: FLASH_MS,
        };
        assert!(
            flash.alpha(100.0, false) > flash.alpha(300.0, false),
            "it fades"
        );
        assert_eq!(
            flash.alpha(100.0, true),
            flash.alpha(300.0, true),
            "it is steady"
        );
    }

    #[test]
    fn a_rebalance_sends_partitions_to_their_members_one_behind_the_other() {
        let (fx, session) = run_collecting("kafka-consumer-group-rebalance", 200);
        let scene = Scene::of(&session);
        let topo = session.timeline().sim().topology();
        let topic = topo.node_id("invoices").unwrap();
        let chips: Vec<&Effect> = fx
            .list
            .iter()
            .filter(|e| matches!(e.kind, EffectKind::Partition { assigned: true, .. }))
            .collect();
        // Six partitions handed out to the group's first generation.
        assert_eq!(chips.len(), 6, "{chips:?}");
        let centre = scene.node(topic).unwrap();
        for c in &chips {
            let EffectKind::Partition {
                from, to, label, ..
            } = &c.kind
            else {
                unreachable!()
            };
            assert!(label.starts_with("invoices-"), "{label}");
            // From the topic's side of a subscription towards a member.
            assert!(from.x > centre.x && to.x > from.x, "{from:?} -> {to:?}");
            assert_ne!(c.dot(c.born + 100.0), c.dot(c.born + 600.0), "it travels");
            assert_eq!(c.dot(c.born - 1.0), None, "not before it sets off");
            assert!(c.label().unwrap().ends_with("assigned"));
        }
        // Each member's partitions leave one after another.
        let mut borns: Vec<f64> = chips.iter().map(|c| c.born).collect();
        borns.sort_by(f64::total_cmp);
        borns.dedup();
        assert!(borns.contains(&PARTITION_GAP_MS), "{borns:?}");
    }

    #[test]
    fn retention_notes_the_new_log_start_beside_the_partition() {
        let (fx, _) = run_collecting("kafka-retention", 400);
        let notes: Vec<&str> = fx
            .list
            .iter()
            .filter_map(|e| match &e.kind {
                EffectKind::LogNote { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            notes
                .iter()
                .any(|t| t.contains("log start") && t.contains("retention.")),
            "{notes:?}"
        );
    }

    #[test]
    fn effects_end_and_flashes_do_not_stack() {
        let (mut fx, _) = run_collecting("amqp-exchange-types", 200);
        let flashes: Vec<_> = fx
            .list
            .iter()
            .filter_map(|e| match e.kind {
                EffectKind::Flash { edge } => Some(edge),
                _ => None,
            })
            .collect();
        let mut unique = flashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(flashes.len(), unique.len(), "one flash per edge");
        fx.prune(10_000.0);
        assert!(fx.list.is_empty());
    }
}
