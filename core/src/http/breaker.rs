//! resilience4j's circuit breaker, state for state (`CircuitBreakerStateMachine`,
//! `CircuitBreakerMetrics`, and the sliding windows of `resilience4j-core`): a pure state
//! machine driven by the model with the simulated clock.
//!
//! - **CLOSED** permits every call, records each outcome in the sliding window, and evaluates
//!   the window after each: once it holds the minimum number of calls, a failure rate or a slow
//!   call rate at or above its threshold (`>=`) opens the breaker.
//! - **OPEN** refuses every call (`CallNotPermittedException`) until `waitDurationInOpenState`
//!   has passed; then the first call that asks moves it to HALF_OPEN and is itself a half-open
//!   call (lazy), or a timer moves it (`automaticTransitionFromOpenToHalfOpenEnabled`).
//! - **HALF_OPEN** permits exactly `permittedNumberOfCallsInHalfOpenState` calls, in a fresh
//!   count-based window of that size whose minimum is that size, so it decides once all of
//!   them are recorded: OPEN again if a threshold is reached, CLOSED otherwise. With
//!   `maxWaitDurationInHalfOpenState` above 0, a timer opens it if they take longer.
//!
//! Outcomes are recorded in the window of the state the breaker is in when the call ends,
//! whatever the state it started in, as resilience4j does.

use super::policy::{CircuitBreakerConfig, SlidingWindowType};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// A breaker's state (written as resilience4j names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are refused.
    Open,
    /// A few trial calls pass.
    HalfOpen,
}

impl BreakerState {
    /// The name resilience4j gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "CLOSED",
            BreakerState::Open => "OPEN",
            BreakerState::HalfOpen => "HALF_OPEN",
        }
    }
}

/// What the window says after an outcome (`CircuitBreakerMetrics.Result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fewer calls than the minimum: never trips.
    BelowMinimumCalls,
    /// Under both thresholds.
    BelowThresholds,
    /// A threshold is reached.
    AboveThresholds,
}

/// The totals of a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Calls recorded.
    pub calls: u32,
    /// Of which failed.
    pub failed: u32,
    /// Of which slow (longer than the slow-call threshold).
    pub slow: u32,
}

impl Totals {
    fn add(&mut self, o: Outcome) {
        self.calls += 1;
        self.failed += u32::from(o.failed);
        self.slow += u32::from(o.slow);
    }

    fn sub(&mut self, o: Outcome) {
        self.calls -= 1;
        self.failed -= u32::from(o.failed);
        self.slow -= u32::from(o.slow);
    }

    /// The failure rate in percent, as resilience4j computes it (a `float`).
    pub fn failure_rate(&self) -> f32 {
        if self.calls == 0 {
            0.0
        } else {
            self.failed as f32 * 100.0 / self.calls as f32
        }
    }

    /// The slow call rate in percent.
    pub fn slow_rate(&self) -> f32 {
        if self.calls == 0 {
            0.0
        } else {
            self.slow as f32 * 100.0 / self.calls as f32
        }
    }
}

/// One call's outcome: SUCCESS, ERROR, SLOW_SUCCESS or SLOW_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    failed: bool,
    slow: bool,
}

/// A sliding window of outcomes.
#[derive(Clone, Debug)]
enum Window {
    /// The last `size` outcomes (a ring, subtracting on evict).
    Count {
        size: u32,
        ring: VecDeque<Outcome>,
        totals: Totals,
    },
    /// One bucket per epoch second, for the last `size` seconds.
    Time {
        size: u32,
        buckets: VecDeque<(u64, Totals)>,
    },
}

impl Window {
    fn new(kind: SlidingWindowType, size: u32) -> Window {
        match kind {
            SlidingWindowType::CountBased => Window::Count {
                size,
                ring: VecDeque::with_capacity(size.min(1024) as usize),
                totals: Totals::default(),
            },
            SlidingWindowType::TimeBased => Window::Time {
                size,
                buckets: VecDeque::new(),
            },
        }
    }

    fn evict_old(buckets: &mut VecDeque<(u64, Totals)>, size: u32, now: SimTime) {
        let second = now.0 / 1_000_000;
        while buckets
            .front()
            .is_some_and(|&(s, _)| s + u64::from(size) <= second)
        {
            buckets.pop_front();
        }
    }

    fn record(&mut self, now: SimTime, o: Outcome) {
        match self {
            Window::Count { size, ring, totals } => {
                if ring.len() as u32 == *size {
                    let old = ring.pop_front().expect("a full ring");
                    totals.sub(old);
                }
                ring.push_back(o);
                totals.add(o);
            }
            Window::Time { size, buckets } => {
                Window::evict_old(buckets, *size, now);
                let second = now.0 / 1_000_000;
                match buckets.back_mut() {
                    Some((s, t)) if *s == second => t.add(o),
                    _ => {
                        let mut t = Totals::default();
                        t.add(o);
                        buckets.push_back((second, t));
                    }
                }
            }
        }
    }

    fn totals(&self, now: SimTime) -> Totals {
        match self {
            Window::Count { totals, .. } => *totals,
            Window::Time { size, buckets } => {
                let second = now.0 / 1_000_000;
                let mut t = Totals::default();
                for (s, b) in buckets {
                    if s + u64::from(*size) > second {
                        t.calls += b.calls;
                        t.failed += b.failed;
                        t.slow += b.slow;
                    }
                }
                t
            }
        }
    }
}

/// A circuit breaker on one edge.
#[derive(Clone, Debug)]
pub struct Breaker {
    cfg: CircuitBreakerConfig,
    state: BreakerState,
    window: Window,
    /// The minimum number of calls of the current window.
    min_calls: u32,
    /// Times it has opened since it last closed (`attempts`, for the open-state wait).
    attempts: u32,
    /// While open: when calls may be tried again.
    retry_after: SimTime,
    /// While half-open: permits left; and when the half-open state began.
    permits: u32,
    half_open_since: SimTime,
    /// Bumped at every change of state, so that a timer set for an older state does nothing.
    epoch: u32,
    /// Calls refused so far.
    not_permitted: u64,
}

impl Breaker {
    /// A closed breaker with `cfg`.
    pub fn new(cfg: &CircuitBreakerConfig) -> Breaker {
        let mut b = Breaker {
            cfg: cfg.clone(),
            state: BreakerState::Closed,
            window: Window::new(SlidingWindowType::CountBased, 1),
            min_calls: 0,
            attempts: 0,
            retry_after: SimTime::ZERO,
            permits: 0,
            half_open_since: SimTime::ZERO,
            epoch: 0,
            not_permitted: 0,
        };
        b.transition_to_closed();
        b
    }

    /// Its state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The stamp of the current state, for timers.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// While open, when it lets a call try again.
    pub fn open_until(&self) -> Option<SimTime> {
        (self.state == BreakerState::Open).then_some(self.retry_after)
    }

    /// Calls refused so far.
    pub fn not_permitted(&self) -> u64 {
        self.not_permitted
    }

    /// The current window's totals.
    pub fn totals(&self, now: SimTime) -> Totals {
        self.window.totals(now)
    }

    /// The permits left while half-open.
    pub fn permits_left(&self) -> u32 {
        self.permits
    }

    fn transition_to_closed(&mut self) {
        self.state = BreakerState::Closed;
        self.attempts = 0;
        self.window = Window::new(self.cfg.sliding_window_type, self.cfg.sliding_window_size);
        self.min_calls = match self.cfg.sliding_window_type {
            SlidingWindowType::CountBased => self
                .cfg
                .minimum_number_of_calls
                .min(self.cfg.sliding_window_size),
            SlidingWindowType::TimeBased => self.cfg.minimum_number_of_calls,
        };
        self.epoch = self.epoch.wrapping_add(1);
    }

    fn transition_to_open(&mut self, now: SimTime) {
        self.state = BreakerState::Open;
        self.attempts += 1;
        // `waitIntervalFunctionInOpenState(attempts)`: constant by default.
        self.retry_after = now + self.cfg.wait_duration_in_open_state;
        self.epoch = self.epoch.wrapping_add(1);
        // The window is kept, for metrics only, until the next state replaces it.
    }

    fn transition_to_half_open(&mut self, now: SimTime) {
        let n = self.cfg.permitted_number_of_calls_in_half_open_state;
        self.state = BreakerState::HalfOpen;
        self.window = Window::new(SlidingWindowType::CountBased, n);
        self.min_calls = n;
        self.permits = n;
        self.half_open_since = now;
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// `tryAcquirePermission` at `now`: true if the call may go. The state may change (open to
    /// half-open, lazily); `changed` says so.
    pub fn try_acquire(&mut self, now: SimTime, changed: &mut bool) -> bool {
        if self.state == BreakerState::Open && now > self.retry_after {
            self.transition_to_half_open(now);
            *changed = true;
        }
        let ok = match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                if self.permits > 0 {
                    self.permits -= 1;
                    true
                } else {
                    false
                }
            }
        };
        if !ok {
            self.not_permitted += 1;
        }
        ok
    }

    /// A permitted call will not be recorded after all (resilience4j's `releasePermission`,
    /// for an ignored outcome): its half-open permit comes back.
    pub fn release(&mut self) {
        if self.state == BreakerState::HalfOpen {
            self.permits =
                (self.permits + 1).min(self.cfg.permitted_number_of_calls_in_half_open_state);
        }
    }

    /// What the window says now.
    pub fn verdict(&self, now: SimTime) -> Verdict {
        let t = self.window.totals(now);
        if t.calls == 0 || t.calls < self.min_calls {
            return Verdict::BelowMinimumCalls;
        }
        if t.failure_rate() >= self.cfg.failure_rate_threshold
            || t.slow_rate() >= self.cfg.slow_call_rate_threshold
        {
            Verdict::AboveThresholds
        } else {
            Verdict::BelowThresholds
        }
    }

    /// A call that took `duration` ended at `now`, failed or not: recorded in the current
    /// window, which is then evaluated. Returns the new state if it changed.
    pub fn record(
        &mut self,
        now: SimTime,
        duration: SimDuration,
        failed: bool,
    ) -> Option<BreakerState> {
        let slow = duration > self.cfg.slow_call_duration_threshold;
        self.window.record(now, Outcome { failed, slow });
        let verdict = self.verdict(now);
        match (self.state, verdict) {
            (BreakerState::Closed, Verdict::AboveThresholds) => {
                self.transition_to_open(now);
                Some(BreakerState::Open)
            }
            (BreakerState::HalfOpen, Verdict::AboveThresholds) => {
                self.transition_to_open(now);
                Some(BreakerState::Open)
            }
            (BreakerState::HalfOpen, Verdict::BelowThresholds) => {
                self.transition_to_closed();
                Some(BreakerState::Closed)
            }
            (BreakerState::Closed, Verdict::BelowThresholds | Verdict::BelowMinimumCalls)
            | (BreakerState::HalfOpen, Verdict::BelowMinimumCalls)
            | (BreakerState::Open, _) => None,
        }
    }

    /// When the breaker's own timer is due, if it has one now: the automatic move to half-open,
    /// or the longest half-open wait.
    pub fn timer(&self) -> Option<SimTime> {
        match self.state {
            BreakerState::Open if self.cfg.automatic_transition_from_open_to_half_open_enabled => {
                // The lazy rule moves on the first call strictly after the wait; the timer
                // fires at the wait's end.
                Some(self.retry_after)
            }
            BreakerState::HalfOpen if !self.cfg.max_wait_duration_in_half_open_state.is_zero() => {
                Some(self.half_open_since + self.cfg.max_wait_duration_in_half_open_state)
            }
            BreakerState::Open | BreakerState::HalfOpen | BreakerState::Closed => None,
        }
    }

    /// The timer set in state `epoch` is due: the state moves if it is still that state.
    pub fn fire(&mut self, now: SimTime, epoch: u32) -> Option<BreakerState> {
        if epoch != self.epoch {
            return None;
        }
        match self.state {
            BreakerState::Open => {
                self.transition_to_half_open(now);
                Some(BreakerState::HalfOpen)
            }
            BreakerState::HalfOpen => {
                // `transitionToStateAfterWaitDuration`, OPEN by default.
                self.transition_to_open(now);
                Some(BreakerState::Open)
            }
            BreakerState::Closed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> SimTime {
        SimTime(x * 1_000)
    }

    fn d(x: u64) -> SimDuration {
        SimDuration::from_ms(x)
    }

    fn cb1() -> Breaker {
        Breaker::new(&CircuitBreakerConfig {
            sliding_window_size: 10,
            minimum_number_of_calls: 10,
            failure_rate_threshold: 50.0,
            permitted_number_of_calls_in_half_open_state: 3,
            wait_duration_in_open_state: d(1000),
            ..CircuitBreakerConfig::default()
        })
    }

    fn acquire(b: &mut Breaker, at: SimTime) -> bool {
        let mut changed = false;
        b.try_acquire(at, &mut changed)
    }

    /// Opens `cb1` at t = 10 ms with 9 failures and a success.
    fn opened() -> Breaker {
        let mut b = cb1();
        for i in 0..9 {
            assert!(acquire(&mut b, ms(i)));
            assert_eq!(
                b.record(ms(i), d(1), true),
                None,
                "call {}: 9 < 10 calls",
                i + 1
            );
            assert_eq!(b.state(), BreakerState::Closed);
        }
        assert!(acquire(&mut b, ms(10)));
        assert_eq!(
            b.record(ms(10), d(1), false),
            Some(BreakerState::Open),
            "90 % ≥ 50 %"
        );
        b
    }

    #[test]
    fn ct_r4j_cb_1_opens_refuses_half_opens_and_decides_on_the_permitted_calls() {
        let mut b = opened();
        assert!(!acquire(&mut b, ms(10 + 500)), "rejected at t + 0.5 s");
        assert_eq!(b.not_permitted(), 1);
        assert!(
            !acquire(&mut b, ms(10 + 1000)),
            "still open at exactly t + 1 s (isAfter)"
        );
        let mut changed = false;
        assert!(
            b.try_acquire(ms(10 + 1100), &mut changed),
            "t + 1.1 s: half-open, permitted"
        );
        assert!(changed);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(acquire(&mut b, ms(1111)));
        assert!(acquire(&mut b, ms(1112)));
        assert!(
            !acquire(&mut b, ms(1113)),
            "a 4th concurrent call is rejected"
        );
        // S, S, F: 33 % < 50 % → CLOSED.
        assert_eq!(b.record(ms(1120), d(1), false), None);
        assert_eq!(b.record(ms(1121), d(1), false), None);
        assert_eq!(b.record(ms(1122), d(1), true), Some(BreakerState::Closed));
        assert_eq!(b.totals(ms(1122)), Totals::default(), "a fresh window");

        // S, F, F: 67 % → OPEN.
        let mut b = opened();
        assert!(acquire(&mut b, ms(1200)));
        assert!(acquire(&mut b, ms(1200)));
        assert!(acquire(&mut b, ms(1200)));
        assert_eq!(b.record(ms(1210), d(1), false), None);
        assert_eq!(b.record(ms(1211), d(1), true), None);
        assert_eq!(b.record(ms(1212), d(1), true), Some(BreakerState::Open));
        assert_eq!(b.open_until(), Some(ms(2212)));
    }

    #[test]
    fn ct_r4j_cb_2_five_failures_in_ten_trips_at_the_threshold() {
        let mut b = cb1();
        for i in 0..9 {
            assert!(acquire(&mut b, ms(i)));
            assert_eq!(b.record(ms(i), d(1), i % 2 == 0), None, "call {}", i + 1);
        }
        // 5 failures (calls 1, 3, 5, 7, 9) and this success: 5/10 = 50 % ≥ 50 %.
        assert_eq!(b.record(ms(9), d(1), false), Some(BreakerState::Open));
    }

    #[test]
    fn four_failures_in_ten_stay_closed_and_the_ring_forgets_old_calls() {
        let mut b = cb1();
        let outcomes = [
            true, true, true, true, false, false, false, false, false, false,
        ];
        for (i, f) in outcomes.into_iter().enumerate() {
            assert_eq!(b.record(ms(i as u64), d(1), f), None);
        }
        assert_eq!(b.totals(ms(10)).failed, 4);
        // Each new failure evicts an old failure first: the count stays at 4 for 4 calls.
        for i in 0..4 {
            assert_eq!(b.record(ms(20 + i), d(1), true), None);
            assert_eq!(b.totals(ms(20 + i)).failed, 4);
        }
        // The next evicts a success: 5 of 10.
        assert_eq!(b.record(ms(30), d(1), true), Some(BreakerState::Open));
    }

    #[test]
    fn minimum_calls_is_capped_by_a_count_window_but_not_by_a_time_window() {
        let count = Breaker::new(&CircuitBreakerConfig {
            sliding_window_size: 5,
            minimum_number_of_calls: 100,
            ..CircuitBreakerConfig::default()
        });
        let mut b = count;
        for i in 0..4 {
            assert_eq!(b.record(ms(i), d(1), true), None);
        }
        assert_eq!(
            b.record(ms(4), d(1), true),
            Some(BreakerState::Open),
            "min(100, 5) = 5"
        );

        let mut t = Breaker::new(&CircuitBreakerConfig {
            sliding_window_type: SlidingWindowType::TimeBased,
            sliding_window_size: 5,
            minimum_number_of_calls: 8,
            ..CircuitBreakerConfig::default()
        });
        for i in 0..7 {
            assert_eq!(t.record(ms(i), d(1), true), None, "below 8 calls");
        }
        assert_eq!(t.record(ms(7), d(1), true), Some(BreakerState::Open));
    }

    #[test]
    fn a_time_window_forgets_the_seconds_that_left_it() {
        let mut b = Breaker::new(&CircuitBreakerConfig {
            sliding_window_type: SlidingWindowType::TimeBased,
            sliding_window_size: 2,
            minimum_number_of_calls: 3,
            ..CircuitBreakerConfig::default()
        });
        // Two failures in second 0, then successes from second 2: the failures have left.
        b.record(ms(100), d(1), true);
        b.record(ms(200), d(1), true);
        assert_eq!(b.totals(ms(1_500)).failed, 2, "seconds 0 and 1 are in");
        assert_eq!(b.totals(ms(2_000)).calls, 0, "second 0 left at second 2");
        for i in 0..3 {
            assert_eq!(b.record(ms(2_000 + i), d(1), false), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn slow_calls_trip_the_slow_rate_strictly_above_the_duration() {
        let mut b = Breaker::new(&CircuitBreakerConfig {
            sliding_window_size: 2,
            minimum_number_of_calls: 2,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold: d(200),
            ..CircuitBreakerConfig::default()
        });
        assert_eq!(b.record(ms(1), d(200), false), None, "200 ms is not slow");
        assert_eq!(b.record(ms(2), d(201), false), None, "1 of 2 slow: 50 %");
        assert_eq!(
            b.record(ms(3), d(300), false),
            Some(BreakerState::Open),
            "2 of 2"
        );
    }

    #[test]
    fn automatic_half_open_and_the_longest_half_open_wait() {
        let mut b = Breaker::new(&CircuitBreakerConfig {
            sliding_window_size: 1,
            minimum_number_of_calls: 1,
            wait_duration_in_open_state: d(1000),
            automatic_transition_from_open_to_half_open_enabled: true,
            permitted_number_of_calls_in_half_open_state: 2,
            max_wait_duration_in_half_open_state: d(500),
            ..CircuitBreakerConfig::default()
        });
        assert_eq!(b.record(ms(0), d(1), true), Some(BreakerState::Open));
        let at = b.timer().expect("an automatic move");
        assert_eq!(at, ms(1000));
        let stale = b.epoch().wrapping_sub(1);
        assert_eq!(b.fire(at, stale), None, "a stale timer does nothing");
        assert_eq!(b.fire(at, b.epoch()), Some(BreakerState::HalfOpen));
        assert!(acquire(&mut b, ms(1000)));
        assert_eq!(b.timer(), Some(ms(1500)));
        assert_eq!(
            b.fire(ms(1500), b.epoch()),
            Some(BreakerState::Open),
            "waited too long"
        );
    }

    #[test]
    fn a_released_permit_comes_back() {
        let mut b = opened();
        assert!(acquire(&mut b, ms(2000)));
        assert!(acquire(&mut b, ms(2000)));
        assert!(acquire(&mut b, ms(2000)));
        assert!(!acquire(&mut b, ms(2000)));
        b.release();
        assert!(acquire(&mut b, ms(2000)));
    }
}
