//! The timeline: owns the `Sim`, turns wall-clock frames into simulated time, keeps checkpoints
//! for time travel, and derives what the page draws (messages in flight, the event log, metric
//! samples, counters). No DOM here, so native tests drive it.
//!
//! # Time travel
//!
//! The run so far is the scenario plus the edit log. Every [`CHECKPOINT_EVERY`] events the
//! timeline keeps a [`Checkpoint`]: a snapshot of the `Sim` and of the derived view state.
//! Seeking restores the nearest checkpoint at or before the target and re-simulates forward,
//! applying logged edits exactly where they were applied, so the state reached is the state the
//! run had. Moving forward from a restored point replays the logged future; a new command there
//! forks the run: the future after that point is discarded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use switchboard_core::amqp::AmqpEvent;
use switchboard_core::http::HttpMetrics;
use switchboard_core::{
    Command, CommandError, EdgeId, Edit, Event, EventKind, MessageId, NodeId, Scenario, Sim,
    SimTime,
};

/// At most this many events per animation frame, so a frame never stalls the page.
pub const STEP_BUDGET_PER_FRAME: u64 = 200_000;
/// A frame longer than this (a background tab, a debugger pause) counts as this long.
pub const MAX_FRAME_MS: f64 = 250.0;
/// A checkpoint every this many events: a seek re-simulates at most this many.
pub const CHECKPOINT_EVERY: u64 = 10_000;
/// Checkpoints kept before every other one is dropped (memory stays bounded; seeks then
/// re-simulate up to twice as far).
pub const MAX_CHECKPOINTS: usize = 256;
/// The most live messages all checkpoints may hold together (each checkpoint copies every
/// message in the run; the traces' spans and tracked messages count as messages too). Past
/// it, checkpoints are thinned by halves: memory stays bounded and seeks re-simulate further. A checkpoint also waits at least 4 events per live message, so
/// copying stays a small share of the work.
pub const CHECKPOINT_MESSAGE_BUDGET: u64 = 1_000_000;
/// Traces the page keeps: the newest chains'.
pub const PAGE_TRACES: usize = 100;
/// Events the log drawer keeps (older ones are summarised by the counters).
pub const LOG_CAPACITY: usize = 20_000;
/// Simulated time between metric samples.
pub const SAMPLE_EVERY_US: u64 = 250_000;
/// Samples kept for the charts (a minute of simulated time).
pub const SAMPLES_KEPT: usize = 240;
/// The most events one long piece of work (a seek, a run to a moment) may process. Past it
/// the work stops where it got to and says so: a heavy scenario asked to run for an hour
/// would otherwise keep the page busy for minutes.
pub const WORK_STEP_BUDGET: u64 = 50_000_000;

/// How a message in flight is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tint {
    /// A first delivery or a publish.
    Normal,
    /// Delivered with the `redelivered` flag set.
    Redelivered,
    /// It has been dead-lettered at least once.
    DeadLettered,
}

/// A message on an edge, for the canvas layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flight {
    /// The message.
    pub message: MessageId,
    /// The edge it travels.
    pub edge: EdgeId,
    /// When it left.
    pub depart: SimTime,
    /// When it arrives.
    pub arrive: SimTime,
    /// How to draw it.
    pub tint: Tint,
}

/// One row of the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the run's event sequence, from 0.
    pub ordinal: u64,
    /// The event.
    pub event: Event,
}

/// Cumulative counters of the run, for charts and badges. Deterministic: restored on seeks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages published by producers.
    pub published: u64,
    /// Messages routed into each queue (its publish rate, as the management UI counts it).
    pub routed_in: BTreeMap<NodeId, u64>,
    /// Deliveries to consumers, per queue.
    pub delivered: BTreeMap<NodeId, u64>,
    /// Acks received, per queue.
    pub acked: BTreeMap<NodeId, u64>,
    /// Deliveries with the `redelivered` flag.
    pub redelivered: u64,
    /// Messages dead-lettered (each `dead_lettered` event).
    pub dead_lettered: u64,
    /// Messages dropped or expired.
    pub dropped: u64,
}

/// The view state derived from events, restored with each checkpoint.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    /// Messages on edges right now.
    pub flights: Vec<Flight>,
    /// Messages that have been dead-lettered and are still alive (drawn tinted).
    pub dead: BTreeSet<MessageId>,
    /// Counters.
    pub counters: Counters,
    /// Events seen since the start of the run.
    pub events_seen: u64,
}

/// One sample of the metrics, for the charts.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// When.
    pub at: SimTime,
    /// Per live queue.
    pub queues: Vec<QueueSample>,
    /// Per consumer: `(node, busy µs so far)`.
    pub consumers: Vec<(NodeId, u64)>,
    /// Messages published so far.
    pub published: u64,
    /// Per client: its cumulative request counters.
    pub clients: Vec<ClientSample>,
    /// Per service: its state now and its cumulative counters.
    pub services: Vec<ServiceSample>,
    /// Per store that is read, or is a read model: its cumulative read counters and
    /// staleness.
    pub stores: Vec<StoreSample>,
}

/// One store in a [`Sample`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSample {
    /// The store.
    pub node: NodeId,
    /// Reads served so far.
    pub reads: u64,
    /// Stale reads so far.
    pub stale_reads: u64,
    /// Read-your-writes violations so far.
    pub ryw_violations: u64,
    /// As a read model: its staleness windows so far.
    pub staleness: Option<switchboard_core::data::staleness::Summary>,
}

/// One client in a [`Sample`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSample {
    /// The client.
    pub node: NodeId,
    /// Requests begun so far.
    pub requests: u64,
    /// Requests that succeeded so far.
    pub succeeded: u64,
    /// Requests that failed so far.
    pub failed: u64,
}

/// One service in a [`Sample`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSample {
    /// The service.
    pub node: NodeId,
    /// Requests in its accept queue now.
    pub queued: u64,
    /// Busy workers now.
    pub busy: u64,
    /// Requests that arrived so far.
    pub arrived: u64,
    /// Responses sent so far.
    pub responses: u64,
    /// Successful responses that reached a waiting caller so far.
    pub good: u64,
    /// Latency percentiles (p50, p95, p99) over the last 10 s, µs (zeros with no response).
    pub latency_us: [u64; 3],
}

/// One queue in a [`Sample`]: its depth now and its cumulative counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSample {
    /// The queue.
    pub node: NodeId,
    /// Ready messages.
    pub ready: u64,
    /// Delivered, not yet acked.
    pub unacked: u64,
    /// Routed into it so far.
    pub published: u64,
    /// Delivered from it so far.
    pub delivered: u64,
    /// Acked so far.
    pub acked: u64,
}

/// A saved point of the run.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    sim: Sim,
    derived: Derived,
    /// Live messages it holds a copy of, and the spans and tracked messages of its traces.
    live: u64,
}

/// Where a forward move stops.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// At this simulated time (every event at or before it processed).
    Time(SimTime),
    /// When this many events have been processed.
    Steps(u64),
}

/// Why a seek or a command failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimelineError {
    /// The simulator refused a command.
    #[error("{0}")]
    Refused(#[from] CommandError),
    /// The logged run could not be reproduced (a bug: the run is deterministic).
    #[error("the run could not be reproduced: {0}")]
    Replay(String),
    /// Long work needed more than [`WORK_STEP_BUDGET`] events; it stopped where it got to.
    #[error(
        "getting to {target} needs more than {budget} events (the step budget); it stopped at {reached}"
    )]
    TooLong {
        /// Where it was going.
        target: SimTime,
        /// Where it stopped.
        reached: SimTime,
        /// The budget.
        budget: u64,
    },
}

/// Long work under way: going to a moment of the run, a slice at a time (see
/// [`Timeline::begin_seek`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Work {
    /// The moment being gone to.
    pub target: SimTime,
    /// Where the run is now.
    pub now: SimTime,
    /// Where it started from.
    pub from: SimTime,
    /// Events processed for it so far.
    pub steps: u64,
}

impl Work {
    /// How far along it is, from 0 to 1 (by simulated time).
    pub fn fraction(&self) -> f64 {
        let span = self.target.0.saturating_sub(self.from.0);
        if span == 0 {
            return 1.0;
        }
        (self.now.0.saturating_sub(self.from.0) as f64 / span as f64).clamp(0.0, 1.0)
    }
}

/// Drives a simulation for display, with checkpoints for time travel.
pub struct Timeline {
    sim: Sim,
    /// The whole edit log of the run, including edits ahead of a restored point.
    edits: Vec<Edit>,
    checkpoints: Vec<Checkpoint>,
    /// Events between checkpoints (doubles when checkpoints are thinned).
    checkpoint_every: u64,
    /// The furthest the run has been: `(time, steps)`.
    horizon: (SimTime, u64),
    derived: Derived,
    log: VecDeque<LogEntry>,
    samples: VecDeque<Sample>,
    next_sample: SimTime,
    running: bool,
    /// Where playing stops by itself ([`Timeline::play_until`]), if anywhere.
    stop_at: Option<SimTime>,
    /// While a seek must not apply the logged edits past this many ([`Timeline::seek_before_edit`]).
    edit_cap: Option<usize>,
    speed: f64,
    /// Fractional microseconds carried between frames, so slow speeds stay exact over time.
    carry_us: f64,
    /// Long work under way, done a slice at a time by [`Timeline::work`].
    work: Option<Work>,
    /// The most events one piece of long work may process ([`WORK_STEP_BUDGET`]).
    work_budget: u64,
}

impl Timeline {
    /// A paused timeline at time zero. The scenario is checked by the live-edit rules, so a
    /// topology being drawn (a producer not yet connected) runs too.
    pub fn new(scenario: &Scenario) -> Result<Timeline, switchboard_core::Diagnostics> {
        Ok(Timeline::from_sim(Sim::draft(scenario)?))
    }

    fn from_sim(mut sim: Sim) -> Timeline {
        // The Trace drawer's waterfalls: kept by the Sim, so time travel restores them too.
        // The 100 newest chains (the picker lists 50): every checkpoint keeps its own copy of
        // the traces that change after it, so fewer traces is less memory per checkpoint.
        sim.keep_traces(switchboard_core::traces::TraceLimits {
            traces: PAGE_TRACES,
            ..switchboard_core::traces::TraceLimits::default()
        });
        let mut t = Timeline {
            sim,
            edits: Vec::new(),
            checkpoints: Vec::new(),
            checkpoint_every: CHECKPOINT_EVERY,
            horizon: (SimTime::ZERO, 0),
            derived: Derived::default(),
            log: VecDeque::new(),
            samples: VecDeque::new(),
            next_sample: SimTime::ZERO,
            running: false,
            stop_at: None,
            edit_cap: None,
            speed: 1.0,
            carry_us: 0.0,
            work: None,
            work_budget: WORK_STEP_BUDGET,
        };
        t.absorb();
        t.take_sample();
        t.checkpoints.push(t.checkpoint());
        t
    }

    /// Gives a fresh timeline an edit log to replay as it plays (a shared link's run): each
    /// command is applied where it was first applied. If the log does not fit the run, playing
    /// stops with an error that names the edit.
    pub fn with_edits(mut self, edits: Vec<Edit>) -> Timeline {
        self.edits = edits;
        self
    }

    /// Keeps a checkpoint every `events` events instead of [`CHECKPOINT_EVERY`] (tests use
    /// small intervals to exercise thinning cheaply).
    pub fn with_checkpoint_every(mut self, events: u64) -> Timeline {
        self.checkpoint_every = events.max(1);
        self
    }

    /// Bounds long work by `events` instead of [`WORK_STEP_BUDGET`] (tests use a small one).
    pub fn with_work_step_budget(mut self, events: u64) -> Timeline {
        self.work_budget = events.max(1);
        self
    }

    /// The simulation (read-only).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// True while playing.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The playback speed as a multiple of real time.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The furthest simulated time the run has reached (the end of the scrubber).
    pub fn horizon(&self) -> SimTime {
        self.horizon.0
    }

    /// True when the run is at its furthest point: moving forward simulates new time rather
    /// than replaying the logged future.
    pub fn at_head(&self) -> bool {
        self.sim.steps() >= self.horizon.1 && self.sim.edit_log().len() >= self.edits.len()
    }

    /// True before anything has happened: no event processed, no command applied.
    pub fn at_start(&self) -> bool {
        self.sim.steps() == 0 && self.sim.now() == SimTime::ZERO && self.edits.is_empty()
    }

    /// The whole edit log of the run.
    pub fn edits(&self) -> &[Edit] {
        &self.edits
    }

    /// Derived view state: flights, counters.
    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    /// Messages on edges right now.
    pub fn flights(&self) -> &[Flight] {
        &self.derived.flights
    }

    /// The event log, oldest first (at most [`LOG_CAPACITY`] rows).
    pub fn log(&self) -> &VecDeque<LogEntry> {
        &self.log
    }

    /// Metric samples, oldest first.
    pub fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }

    /// How many checkpoints are kept.
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// Starts playing (from where the run is: long work under way is cancelled).
    pub fn play(&mut self) {
        self.work = None;
        self.running = true;
        self.stop_at = None;
    }

    /// Starts playing, as [`Timeline::play`], and pauses by itself at simulated time `t`
    /// exactly (a guided tour's step). At or past `t` already, it stays paused.
    pub fn play_until(&mut self, t: SimTime) {
        self.play();
        if self.sim.now() >= t {
            self.pause();
        } else {
            self.stop_at = Some(t);
        }
    }

    /// Where playing will stop by itself, while it plays towards it.
    pub fn stop_at(&self) -> Option<SimTime> {
        self.stop_at.filter(|_| self.running)
    }

    /// Stops playing; the clock stays where it is. Long work under way stops too (the run
    /// stays where it had got to).
    pub fn pause(&mut self) {
        self.stop_at = None;
        self.running = false;
        self.carry_us = 0.0;
        self.work = None;
    }

    /// Sets the speed, clamped to 0.1×–100×.
    pub fn set_speed(&mut self, speed: f64) {
        if speed.is_finite() {
            self.speed = speed.clamp(0.1, 100.0);
        }
    }

    /// Pauses and processes exactly one event. Returns false if nothing was scheduled.
    pub fn step(&mut self) -> bool {
        self.pause();
        if self.sim.next_event_time().is_none() && self.pending_edits().is_empty() {
            return false;
        }
        let target = self.sim.steps() + 1;
        self.forward(Stop::Steps(target), u64::MAX).is_ok()
    }

    /// Pauses and goes back exactly one event. Returns false at the start of the run.
    pub fn step_back(&mut self) -> bool {
        self.pause();
        let steps = self.sim.steps();
        if steps == 0 {
            return false;
        }
        self.seek_steps(steps - 1).is_ok()
    }

    /// Advances by one animation frame of `wall_ms` milliseconds, if playing. An error means
    /// the logged run could not be reproduced (a bug); the timeline pauses.
    pub fn tick(&mut self, wall_ms: f64) -> Result<(), TimelineError> {
        // NaN and non-positive frame times (clock hiccups) move nothing.
        if !self.running || wall_ms.is_nan() || wall_ms <= 0.0 {
            return Ok(());
        }
        let us = wall_ms.min(MAX_FRAME_MS) * 1_000.0 * self.speed + self.carry_us;
        let whole = us.floor();
        self.carry_us = us - whole;
        let mut target = SimTime(self.sim.now().0 + whole as u64);
        let stop = self.stop_at.filter(|s| *s <= target);
        if let Some(s) = stop {
            target = s;
        }
        // A failure here is a determinism bug; stop rather than show a diverged run.
        let r = self.forward(Stop::Time(target), STEP_BUDGET_PER_FRAME);
        if r.is_err() || (stop.is_some() && self.sim.now() >= target) {
            self.pause();
        }
        r.map(|_| ())
    }

    /// Goes to simulated time `t` (clamped to the run so far) and pauses there, all at once.
    /// A page uses [`Timeline::begin_seek`] and [`Timeline::work`] instead, so that a far seek
    /// cannot freeze it.
    pub fn seek(&mut self, t: SimTime) -> Result<(), TimelineError> {
        self.begin_seek(t);
        self.finish_work()
    }

    /// Plays forward to simulated time `t` (beyond the run so far if need be) and pauses
    /// there, all at once: see [`Timeline::begin_run_to`].
    pub fn run_to(&mut self, t: SimTime) -> Result<(), TimelineError> {
        self.begin_run_to(t);
        self.finish_work()
    }

    fn finish_work(&mut self) -> Result<(), TimelineError> {
        while self.work.is_some() {
            self.work(u64::MAX)?;
        }
        Ok(())
    }

    /// Goes to simulated time `t` with only the first `edits` of the logged edits applied, all
    /// at once: the moment just before a command that was applied at `t` itself (a guided
    /// tour's step, as it was before the next step's action). The later edits stay in the log,
    /// so playing on replays them.
    pub fn seek_before_edit(&mut self, t: SimTime, edits: usize) -> Result<(), TimelineError> {
        self.edit_cap = Some(edits);
        let r = self.seek(t);
        self.edit_cap = None;
        r
    }

    /// The logged edits a forward run may apply: all of them, or the first few during
    /// [`Timeline::seek_before_edit`].
    fn replayable(&self) -> usize {
        self.edit_cap
            .unwrap_or(self.edits.len())
            .min(self.edits.len())
    }

    /// Starts going to simulated time `t` (clamped to the run so far), paused: the nearest
    /// checkpoint is restored now, and [`Timeline::work`] re-simulates the rest a slice at a
    /// time. Replaces any long work under way.
    pub fn begin_seek(&mut self, t: SimTime) {
        let t = t.min(self.horizon.0);
        self.pause();
        // The nearest checkpoint at or before the target, unless the current state is nearer:
        // forward seeks jump too, so no seek re-simulates more than one checkpoint interval.
        let cap = self.replayable();
        let i = self
            .checkpoints
            .iter()
            .rposition(|c| c.sim.now() <= t && c.sim.edit_log().len() <= cap)
            .unwrap_or(0);
        if t < self.sim.now()
            || self.sim.edit_log().len() > cap
            || self.checkpoints[i].sim.steps() > self.sim.steps()
        {
            self.restore(i);
        }
        self.start_work(t);
    }

    /// Starts going to simulated time `t`, beyond the run so far if need be (where an
    /// embedded player starts), paused; [`Timeline::work`] does it a slice at a time.
    pub fn begin_run_to(&mut self, t: SimTime) {
        if t <= self.horizon.0 {
            self.begin_seek(t);
        } else {
            self.pause();
            self.start_work(t);
        }
    }

    fn start_work(&mut self, target: SimTime) {
        self.work = Some(Work {
            target,
            now: self.sim.now(),
            from: self.sim.now(),
            steps: 0,
        });
    }

    /// The long work under way, if any.
    pub fn pending_work(&self) -> Option<Work> {
        self.work
    }

    /// Stops the long work under way, if any. The run stays where the work had got to: a
    /// consistent moment of it, paused (as if it had been sought to).
    pub fn cancel_work(&mut self) -> Option<Work> {
        self.work.take()
    }

    /// Does up to `budget` events of the long work under way. Returns what is left (`None`
    /// once it is done). Past [`WORK_STEP_BUDGET`] events in all, the work stops where it got
    /// to (paused there, a consistent moment of the run) and the error says so.
    pub fn work(&mut self, budget: u64) -> Result<Option<Work>, TimelineError> {
        let Some(mut w) = self.work else {
            return Ok(None);
        };
        let left = self.work_budget.saturating_sub(w.steps);
        if left == 0 {
            self.work = None;
            return Err(TimelineError::TooLong {
                target: w.target,
                reached: self.sim.now(),
                budget: self.work_budget,
            });
        }
        let before = self.sim.steps();
        let r = self.forward(Stop::Time(w.target), budget.min(left));
        w.steps += self.sim.steps().saturating_sub(before);
        w.now = self.sim.now();
        match r {
            Err(e) => {
                self.work = None;
                Err(e)
            }
            Ok(reached) => {
                self.work = (!reached).then_some(w);
                Ok(self.work)
            }
        }
    }

    /// Goes to the state after exactly `steps` events (and the edits logged at that point).
    pub fn seek_steps(&mut self, steps: u64) -> Result<(), TimelineError> {
        let steps = steps.min(self.horizon.1);
        let i = self
            .checkpoints
            .iter()
            .rposition(|c| c.sim.steps() <= steps)
            .unwrap_or(0);
        if steps < self.sim.steps() || self.checkpoints[i].sim.steps() > self.sim.steps() {
            self.restore(i);
        }
        self.forward(Stop::Steps(steps), u64::MAX).map(|_| ())
    }

    /// Applies a command now. If the run is not at its head, this forks it: the logged future
    /// is discarded first.
    pub fn apply(&mut self, command: Command) -> Result<(), TimelineError> {
        self.apply_all(vec![command])
    }

    /// Applies commands now, all or none: if one is refused, the state is as before. If the
    /// run is not at its head, this forks it: the logged future is discarded.
    pub fn apply_all(&mut self, commands: Vec<Command>) -> Result<(), TimelineError> {
        self.work = None;
        let before = self.sim.clone();
        for c in commands {
            if let Err(e) = self.sim.apply(c) {
                self.sim = before;
                return Err(e.into());
            }
        }
        // The past is what the Sim has applied; every checkpoint beyond it is of a discarded
        // future (a checkpoint's edits are always a prefix of the log).
        let kept = before.edit_log().len();
        let steps = self.sim.steps();
        self.checkpoints
            .retain(|c| c.sim.steps() <= steps && c.sim.edit_log().len() <= kept);
        self.edits = self.sim.edit_log().to_vec();
        self.horizon = (self.sim.now(), steps);
        self.absorb();
        Ok(())
    }

    fn pending_edits(&self) -> &[Edit] {
        let applied = self.sim.edit_log().len().min(self.edits.len());
        &self.edits[applied..]
    }

    fn restore(&mut self, i: usize) {
        let c = &self.checkpoints[i];
        self.sim = c.sim.clone();
        self.derived = c.derived.clone();
        let seen = self.derived.events_seen;
        while self.log.back().is_some_and(|e| e.ordinal >= seen) {
            self.log.pop_back();
        }
        let now = self.sim.now();
        while self.samples.back().is_some_and(|s| s.at > now) {
            self.samples.pop_back();
        }
        self.next_sample = SimTime((now.0 / SAMPLE_EVERY_US + 1) * SAMPLE_EVERY_US);
        if self.samples.is_empty() {
            self.next_sample = SimTime::ZERO;
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            sim: self.sim.snapshot(),
            derived: self.derived.clone(),
            // The traces it keeps count too: a span or a tracked message is smaller than a
            // message, so counting each as one keeps the bound.
            live: self.sim.totals().live + self.sim.traces().map_or(0, |b| b.held()),
        }
    }

    /// Moves forward to `stop`, replaying logged edits, sampling metrics on the way, and
    /// keeping checkpoints. At most `budget` events. Returns whether `stop` was reached.
    fn forward(&mut self, stop: Stop, budget: u64) -> Result<bool, TimelineError> {
        let mut left = budget;
        loop {
            let steps = self.sim.steps();
            if let Stop::Steps(n) = stop {
                let stuck = self.sim.next_event_time().is_none() && self.pending_edits().is_empty();
                if steps >= n || stuck {
                    return Ok(true);
                }
            }
            // Samples land on fixed simulated instants, so a replay takes the same samples.
            let target = match stop {
                Stop::Time(t) => t.min(self.next_sample),
                // Never past the next event: stepping leaves the clock at the event's time.
                Stop::Steps(_) => self
                    .sim
                    .next_event_time()
                    .map_or(self.next_sample, |at| at.min(self.next_sample)),
            };
            let to_checkpoint = self.last_checkpoint_steps()
                + self.checkpoint_every.max(4 * self.sim.totals().live);
            let cap = match stop {
                Stop::Steps(n) => n - steps,
                Stop::Time(_) => u64::MAX,
            }
            .min(to_checkpoint.saturating_sub(steps).max(1))
            .min(left);
            let advance = self
                .sim
                .advance_replaying(&self.edits[..self.replayable()], target, cap)
                .map_err(|e| TimelineError::Replay(e.to_string()))?;
            left = left.saturating_sub(advance.steps);
            self.absorb();
            if advance.reached && self.sim.now() >= self.next_sample {
                self.take_sample();
            }
            if self.sim.steps() >= to_checkpoint {
                self.keep_checkpoint();
            }
            self.extend_horizon();
            if let Stop::Time(t) = stop {
                if advance.reached && self.sim.now() >= t {
                    return Ok(true);
                }
            }
            if left == 0 {
                return Ok(false);
            }
        }
    }

    fn last_checkpoint_steps(&self) -> u64 {
        self.checkpoints.last().map_or(0, |c| c.sim.steps())
    }

    fn keep_checkpoint(&mut self) {
        if self.sim.steps() <= self.last_checkpoint_steps() {
            return;
        }
        self.checkpoints.push(self.checkpoint());
        let held = |c: &[Checkpoint]| c.iter().map(|c| c.live).sum::<u64>();
        while self.checkpoints.len() > 2
            && (self.checkpoints.len() > MAX_CHECKPOINTS
                || held(&self.checkpoints) > CHECKPOINT_MESSAGE_BUDGET)
        {
            // Keep the start and every other one after it.
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.checkpoint_every *= 2;
        }
    }

    fn extend_horizon(&mut self) {
        let here = (self.sim.now(), self.sim.steps());
        if here.1 > self.horizon.1 || (here.1 == self.horizon.1 && here.0 > self.horizon.0) {
            self.horizon = here;
        }
    }

    fn take_sample(&mut self) {
        let m = self.sim.metrics();
        let c = &self.derived.counters;
        let mut queues = Vec::new();
        let mut consumers = Vec::new();
        let mut clients = Vec::new();
        let mut services = Vec::new();
        let mut stores = Vec::new();
        for (i, n) in m.nodes.iter().enumerate() {
            if n.removed {
                continue;
            }
            let id = NodeId(i as u32);
            if let Some(q) = n.queue() {
                let count = |m: &BTreeMap<NodeId, u64>| m.get(&id).copied().unwrap_or(0);
                queues.push(QueueSample {
                    node: id,
                    ready: q.ready,
                    unacked: q.unacked,
                    published: count(&c.routed_in),
                    delivered: count(&c.delivered),
                    acked: count(&c.acked),
                });
            }
            if let Some(cm) = n.consumer() {
                consumers.push((id, cm.busy_us));
            }
            if let Some(st) = n.store() {
                if st.projection.is_some() || st.stats.reads > 0 {
                    stores.push(StoreSample {
                        node: id,
                        reads: st.stats.reads,
                        stale_reads: st.stats.stale_reads,
                        ryw_violations: st.stats.ryw_violations,
                        staleness: st.projection.as_ref().map(|p| p.staleness),
                    });
                }
            }
            match n.http() {
                Some(HttpMetrics::Client(c)) => clients.push(ClientSample {
                    node: id,
                    requests: c.stats.requests,
                    succeeded: c.stats.succeeded,
                    failed: c.stats.failed,
                }),
                Some(HttpMetrics::Service(s)) => services.push(ServiceSample {
                    node: id,
                    queued: u64::from(s.queued),
                    busy: u64::from(s.busy),
                    arrived: s.stats.arrived,
                    responses: s.stats.responses,
                    good: s.stats.good,
                    latency_us: s.latency_us.unwrap_or_default(),
                }),
                Some(HttpMetrics::Balancer(_)) | None => {}
            }
        }
        let now = self.sim.now();
        self.samples.push_back(Sample {
            at: now,
            queues,
            consumers,
            published: c.published,
            clients,
            services,
            stores,
        });
        while self.samples.len() > SAMPLES_KEPT {
            self.samples.pop_front();
        }
        self.next_sample = SimTime((now.0 / SAMPLE_EVERY_US + 1) * SAMPLE_EVERY_US);
    }

    /// Takes the Sim's new events into the derived state and the log.
    // One arm per event kind reads better than guards that split a kind over several arms.
    #[allow(clippy::collapsible_match)]
    fn absorb(&mut self) {
        let now = self.sim.now();
        let d = &mut self.derived;
        d.flights.retain(|f| f.arrive >= now);
        let topo = self.sim.topology_shared();
        for e in self.sim.drain_events() {
            match &e.kind {
                EventKind::Sent {
                    message,
                    edge,
                    depart,
                    arrive,
                    ..
                } => {
                    if *arrive >= now {
                        let tint = if d.dead.contains(message) {
                            Tint::DeadLettered
                        } else {
                            Tint::Normal
                        };
                        d.flights.push(Flight {
                            message: *message,
                            edge: *edge,
                            depart: *depart,
                            arrive: *arrive,
                            tint,
                        });
                    }
                }
                EventKind::Data(data) => {
                    // A handler's read or write on its way to the store flies as a dot, named
                    // by the message being handled.
                    use switchboard_core::data::DataEvent;
                    if let DataEvent::WriteSent {
                        message,
                        edge,
                        depart,
                        arrive,
                        ..
                    }
                    | DataEvent::ReadSent {
                        message,
                        edge,
                        depart,
                        arrive,
                        ..
                    } = &**data
                    {
                        if *arrive >= now {
                            d.flights.push(Flight {
                                message: *message,
                                edge: *edge,
                                depart: *depart,
                                arrive: *arrive,
                                tint: Tint::Normal,
                            });
                        }
                    }
                }
                EventKind::Published { .. } => d.counters.published += 1,
                EventKind::Kafka(switchboard_core::kafka::KafkaEvent::BatchSent {
                    producer,
                    tp,
                    travel_us,
                    first,
                    ..
                }) => {
                    // A batch flies as one dot, named by its first record.
                    let arrive = SimTime(e.at.0 + u64::from(*travel_us));
                    if let Some(edge) = topo.edge_between(*producer, tp.0, None) {
                        if arrive >= now {
                            d.flights.push(Flight {
                                message: *first,
                                edge,
                                depart: e.at,
                                arrive,
                                tint: Tint::Normal,
                            });
                        }
                    }
                }
                EventKind::Amqp(AmqpEvent::Delivered {
                    message,
                    edge,
                    redelivered,
                    arrive,
                    ..
                }) => {
                    let queue = topo.edge(*edge).from;
                    *d.counters.delivered.entry(queue).or_default() += 1;
                    if *redelivered {
                        d.counters.redelivered += 1;
                    }
                    if *arrive >= now {
                        let tint = if d.dead.contains(message) {
                            Tint::DeadLettered
                        } else if *redelivered {
                            Tint::Redelivered
                        } else {
                            Tint::Normal
                        };
                        d.flights.push(Flight {
                            message: *message,
                            edge: *edge,
                            depart: e.at,
                            arrive: *arrive,
                            tint,
                        });
                    }
                }
                EventKind::Amqp(AmqpEvent::Settled {
                    message,
                    queue,
                    method,
                    ..
                }) => {
                    if *method == switchboard_core::amqp::SettleMethod::Ack {
                        *d.counters.acked.entry(*queue).or_default() += 1;
                        d.dead.remove(message);
                    }
                }
                EventKind::Amqp(AmqpEvent::DeadLettered { message, .. }) => {
                    d.counters.dead_lettered += 1;
                    d.dead.insert(*message);
                }
                EventKind::Amqp(AmqpEvent::Routed { route, .. }) => {
                    for (q, _) in &route.targets {
                        *d.counters.routed_in.entry(*q).or_default() += 1;
                    }
                    if route.dead_letter {
                        // Copies of a dead letter are dead letters too (drawn tinted).
                        for (_, copy) in &route.targets {
                            d.dead.insert(*copy);
                        }
                    }
                }
                EventKind::Dropped { message, .. } => {
                    d.counters.dropped += 1;
                    d.dead.remove(message);
                }
                EventKind::Consumed { message, .. } => {
                    d.dead.remove(message);
                }
                _ => {}
            }
            self.log.push_back(LogEntry {
                ordinal: d.events_seen,
                event: e,
            });
            d.events_seen += 1;
        }
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Scenario {
        Scenario::from_json(include_str!("../../docs/examples/hello.json")).unwrap()
    }

    fn example(name: &str) -> Scenario {
        let path = format!(
            "{}/../docs/examples/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// A busy pipeline with failures, dead-lettering and a crash: every kind of event.
    fn busy() -> Scenario {
        Scenario::from_json(
            r#"{"version":1,"seed":3,"nodes":[
              {"id":"p","kind":"producer","config":{"rate_per_s":80,"arrival":"poisson","message":{"routing_key":"k"}}},
              {"id":"x","kind":"exchange","config":{"type":"direct"}},
              {"id":"dlx","kind":"exchange","config":{"type":"fanout"}},
              {"id":"q","kind":"queue","config":{"arguments":{"x-dead-letter-exchange":"dlx"}}},
              {"id":"dlq","kind":"queue"},
              {"id":"c","kind":"consumer","config":{"prefetch_count":4,"processing":{"dist":"exponential","mean":"20ms"},
                 "fail_probability":0.2,"on_failure":{"action":"reject","requeue":false}}},
              {"id":"c2","kind":"consumer","config":{"prefetch_count":2,"processing":"30ms","crash_after":40}}],
             "edges":[{"from":"p","to":"x"},{"from":"x","to":"q","routing_key":"k"},{"from":"dlx","to":"dlq"},
               {"from":"q","to":"c"},{"from":"q","to":"c2"}]}"#,
        )
        .unwrap()
    }

    /// What must be identical after a seek: the Sim's observable state and the derived view.
    fn fingerprint(t: &Timeline) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            t.sim().now(),
            t.sim().steps(),
            t.sim().metrics(),
            t.derived().flights,
            t.derived().counters,
        )
    }

    #[test]
    fn playing_until_a_moment_stops_exactly_there() {
        let mut t = Timeline::new(&busy()).unwrap();
        t.play_until(SimTime(1_234_567));
        assert_eq!(t.stop_at(), Some(SimTime(1_234_567)));
        let mut frames = 0;
        while t.is_running() {
            t.tick(16.7).unwrap();
            frames += 1;
            assert!(frames < 200, "it stops");
        }
        assert_eq!(t.sim().now(), SimTime(1_234_567));
        assert_eq!(t.stop_at(), None);
        let mut whole = Timeline::new(&busy()).unwrap();
        whole.run_to(SimTime(1_234_567)).unwrap();
        assert_eq!(
            fingerprint(&t),
            fingerprint(&whole),
            "the same run, watched"
        );
        // Already there: it stays paused. Playing by hand forgets the stop.
        t.play_until(SimTime(1_000_000));
        assert!(!t.is_running());
        t.play_until(SimTime(2_000_000));
        t.play();
        assert_eq!(t.stop_at(), None);
    }

    #[test]
    fn a_seek_before_an_edit_shows_the_moment_before_it_and_keeps_it_for_later() {
        let mut t = Timeline::new(&busy()).unwrap().with_checkpoint_every(50);
        t.run_to(SimTime(1_000_000)).unwrap();
        let before = fingerprint(&t);
        let c = t.sim().topology().node_id("c").unwrap();
        t.apply(Command::Crash { node: c }).unwrap();
        t.run_to(SimTime(2_000_000)).unwrap();
        // Back to 1 s with none of the edits: as it was before the crash.
        t.seek_before_edit(SimTime(1_000_000), 0).unwrap();
        assert_eq!(fingerprint(&t), before);
        assert_eq!(t.sim().edit_log().len(), 0);
        assert_eq!(t.edits().len(), 1, "the crash stays in the log");
        // A plain seek there applies it; playing on replays it.
        t.seek(SimTime(1_000_000)).unwrap();
        assert_eq!(t.sim().edit_log().len(), 1);
        t.seek_before_edit(SimTime(1_000_000), 0).unwrap();
        t.run_to(SimTime(2_000_000)).unwrap();
        let mut whole = Timeline::new(&busy()).unwrap();
        whole.run_to(SimTime(1_000_000)).unwrap();
        whole.apply(Command::Crash { node: c }).unwrap();
        whole.run_to(SimTime(2_000_000)).unwrap();
        assert_eq!(fingerprint(&t), fingerprint(&whole));
    }

    #[test]
    fn a_seek_done_in_slices_reaches_the_same_state_as_at_once() {
        let mut whole = Timeline::new(&busy()).unwrap();
        whole.run_to(SimTime(3_000_000)).unwrap();
        let mut sliced = Timeline::new(&busy()).unwrap();
        sliced.begin_run_to(SimTime(3_000_000));
        let mut slices = 0;
        let mut last = 0.0;
        while let Some(w) = sliced.work(97).unwrap() {
            assert!(w.fraction() >= last, "progress only grows");
            assert!(!sliced.is_running(), "paused while it works");
            last = w.fraction();
            slices += 1;
        }
        assert!(slices > 5, "it took several slices ({slices})");
        assert_eq!(fingerprint(&sliced), fingerprint(&whole));
        // Back again, in slices: a restored checkpoint, then re-simulation.
        whole.seek(SimTime(1_234_567)).unwrap();
        sliced.begin_seek(SimTime(1_234_567));
        while sliced.work(50).unwrap().is_some() {}
        assert_eq!(fingerprint(&sliced), fingerprint(&whole));
    }

    #[test]
    fn cancelled_work_leaves_a_consistent_moment_and_the_next_command_wins() {
        let mut t = Timeline::new(&busy()).unwrap();
        t.begin_run_to(SimTime(5_000_000));
        t.work(500).unwrap();
        let w = t.cancel_work().expect("it was under way");
        assert!(w.now < w.target);
        assert!(t.pending_work().is_none());
        t.sim().check_conservation().unwrap();
        // Where it stopped is a moment of the same run.
        let here = t.sim().now();
        let mut other = Timeline::new(&busy()).unwrap();
        other.run_to(here).unwrap();
        assert_eq!(other.sim().metrics(), t.sim().metrics());
        // A new seek replaces the one under way; play cancels.
        t.begin_run_to(SimTime(4_000_000));
        t.begin_seek(SimTime(1_000));
        while t.work(1000).unwrap().is_some() {}
        assert_eq!(t.sim().now(), SimTime(1_000));
        t.begin_run_to(SimTime(4_000_000));
        t.play();
        assert!(t.pending_work().is_none());
    }

    #[test]
    fn long_work_is_bounded_by_its_step_budget() {
        let mut t = Timeline::new(&busy()).unwrap().with_work_step_budget(2_000);
        t.begin_run_to(SimTime(3_600_000_000));
        let err = loop {
            match t.work(300) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("an hour of this run is more than 2,000 events"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, TimelineError::TooLong { budget: 2_000, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("2000 events"), "{err}");
        assert!(t.pending_work().is_none(), "it stopped");
        assert!(t.sim().steps() >= 2_000 && t.sim().steps() < 2_400);
        t.sim().check_conservation().unwrap();
    }

    #[test]
    fn paused_frames_do_not_move_time() {
        let mut p = Timeline::new(&hello()).unwrap();
        p.tick(16.0).unwrap();
        assert_eq!(p.sim().now(), SimTime::ZERO);
    }

    #[test]
    fn frames_advance_by_wall_time_times_speed() {
        let mut p = Timeline::new(&hello()).unwrap();
        p.play();
        p.tick(16.0).unwrap();
        assert_eq!(p.sim().now(), SimTime(16_000));
        p.set_speed(10.0);
        p.tick(16.0).unwrap();
        assert_eq!(p.sim().now(), SimTime(176_000));
        p.tick(10_000.0).unwrap();
        assert_eq!(
            p.sim().now(),
            SimTime(176_000 + 2_500_000),
            "long frames are capped at 250 ms"
        );
    }

    #[test]
    fn slow_speeds_keep_fractions() {
        let mut p = Timeline::new(&hello()).unwrap();
        p.play();
        p.set_speed(0.1);
        for _ in 0..3 {
            p.tick(16.6667).unwrap();
        }
        // 3 × 1666.67 µs = 5000.01 µs, floored to 5000 only once, not three times.
        assert_eq!(p.sim().now(), SimTime(5_000));
    }

    #[test]
    fn step_pauses_and_moves_exactly_one_event() {
        let mut p = Timeline::new(&hello()).unwrap();
        p.play();
        let next = p.sim().next_event_time().unwrap();
        assert!(p.step());
        assert!(!p.is_running());
        assert_eq!(p.sim().steps(), 1);
        assert_eq!(p.sim().now(), next);
        assert_eq!(
            p.flights().len(),
            1,
            "the first publish puts one message on the edge"
        );
    }

    #[test]
    fn flights_leave_when_they_arrive() {
        let mut p = Timeline::new(&hello()).unwrap();
        p.play();
        let mut seen = 0;
        for _ in 0..600 {
            p.tick(16.0).unwrap();
            let now = p.sim().now();
            assert!(p
                .flights()
                .iter()
                .all(|f| f.depart <= now && now <= f.arrive));
            seen = seen.max(p.flights().len());
        }
        assert!(seen >= 1, "messages were seen in flight");
    }

    #[test]
    fn seeking_back_and_forth_restores_the_exact_state() {
        let mut p = Timeline::new(&busy()).unwrap().with_checkpoint_every(64);
        p.play();
        p.set_speed(5.0);
        let mut marks = Vec::new();
        for i in 0..400 {
            p.tick(16.0).unwrap();
            if i % 50 == 7 {
                marks.push((p.sim().now(), fingerprint(&p)));
            }
        }
        assert!(
            p.sim().steps() > 300,
            "the run did something: {}",
            p.sim().steps()
        );
        assert!(p.checkpoint_count() > 3, "seeks start from checkpoints");
        let end = (p.sim().now(), fingerprint(&p));
        for (t, want) in marks.iter().rev() {
            p.seek(*t).unwrap();
            assert_eq!(&fingerprint(&p), want, "state at {t} after seeking back");
        }
        p.seek(end.0).unwrap();
        assert_eq!(
            fingerprint(&p),
            end.1,
            "state at the end after seeking forward"
        );
    }

    #[test]
    fn stepping_back_restores_the_previous_event() {
        let mut p = Timeline::new(&busy()).unwrap().with_checkpoint_every(16);
        let mut prints = vec![fingerprint(&p)];
        while prints.len() < 300 && p.step() {
            prints.push(fingerprint(&p));
        }
        assert!(prints.len() > 50, "the run has events to step through");
        for want in prints.iter().rev().skip(1) {
            assert!(p.step_back());
            assert_eq!(&fingerprint(&p), want);
        }
        assert!(!p.step_back(), "nothing before the start");
    }

    #[test]
    fn checkpoints_bound_the_replay_and_stay_bounded() {
        let mut s = example("amqp-prefetch-round-robin");
        if let Some(n) = s.nodes.iter_mut().find(|n| n.kind.name() == "producer") {
            if let switchboard_core::scenario::NodeKind::Producer(p) = &mut n.kind {
                p.rate_per_s = 500.0;
                p.limit = None;
            }
        }
        let mut p = Timeline::new(&s).unwrap().with_checkpoint_every(8);
        p.play();
        p.set_speed(10.0);
        for _ in 0..60 {
            p.tick(16.0).unwrap();
        }
        assert!(p.checkpoint_count() <= MAX_CHECKPOINTS);
        assert!(p.checkpoint_count() > 2);
        // Consecutive checkpoints are at most the (possibly doubled) interval apart.
        let steps: Vec<u64> = p.checkpoints.iter().map(|c| c.sim.steps()).collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]));
        let held: u64 = p.checkpoints.iter().map(|c| c.live).sum();
        assert!(held <= CHECKPOINT_MESSAGE_BUDGET);
    }

    /// The consumer-crash example played for `frames` frames, and its consumer's id.
    fn played_with_consumer(frames: usize) -> (Timeline, NodeId) {
        let mut p = Timeline::new(&example("amqp-consumer-crash")).unwrap();
        p.play();
        for _ in 0..frames {
            p.tick(16.0).unwrap();
        }
        let consumer = p
            .sim()
            .topology()
            .node_id("flaky")
            .expect("the example's consumer");
        (p, consumer)
    }

    #[test]
    fn run_to_goes_past_the_run_so_far() {
        let mut p = Timeline::new(&busy()).unwrap();
        p.run_to(SimTime(1_500_000)).unwrap();
        assert_eq!(p.sim().now(), SimTime(1_500_000));
        assert_eq!(p.horizon(), SimTime(1_500_000));
        assert!(!p.is_running());
        p.run_to(SimTime(500_000)).unwrap();
        assert_eq!(
            p.sim().now(),
            SimTime(500_000),
            "back within the run is a seek"
        );
    }

    #[test]
    fn a_command_after_seeking_back_forks_the_run() {
        let (mut p, consumer) = played_with_consumer(100);
        let far = p.sim().now();
        p.seek(SimTime(far.0 / 2)).unwrap();
        assert!(!p.at_head());
        p.apply(Command::Crash { node: consumer }).unwrap();
        assert!(p.at_head(), "the fork is the new head");
        assert_eq!(p.horizon(), SimTime(far.0 / 2));
        assert_eq!(p.edits().len(), 1);
    }

    #[test]
    fn logged_edits_replay_when_moving_forward_again() {
        let (mut p, consumer) = played_with_consumer(40);
        p.apply(Command::Crash { node: consumer }).unwrap();
        for _ in 0..40 {
            p.tick(16.0).unwrap();
        }
        let end = (p.sim().now(), fingerprint(&p));
        p.seek(SimTime::ZERO).unwrap();
        p.seek(end.0).unwrap();
        assert_eq!(fingerprint(&p), end.1);
        assert_eq!(p.sim().edit_log().len(), 1, "the crash was replayed");
    }
}
