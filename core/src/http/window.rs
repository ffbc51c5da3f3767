//! Counters over a sliding window of whole seconds: what a retry budget, adaptive throttling
//! and the metrics count over. One bucket per second of simulated time; buckets that leave the
//! window are dropped as time moves, so memory is bounded by the window, not the run.

use crate::time::SimTime;
use std::collections::VecDeque;

/// Two counts per second, over the last `seconds` seconds.
#[derive(Clone, Debug, Default)]
pub struct PairWindow {
    seconds: u64,
    buckets: VecDeque<(u64, [u64; 2])>,
}

impl PairWindow {
    /// A window of `seconds` seconds (at least 1).
    pub fn new(seconds: u64) -> PairWindow {
        PairWindow {
            seconds: seconds.max(1),
            buckets: VecDeque::new(),
        }
    }

    fn evict(&mut self, second: u64) {
        while self
            .buckets
            .front()
            .is_some_and(|&(s, _)| s + self.seconds <= second)
        {
            self.buckets.pop_front();
        }
    }

    /// Adds `by` to count `which` (0 or 1) at `now`.
    pub fn add(&mut self, now: SimTime, which: usize, by: u64) {
        let second = now.0 / 1_000_000;
        self.evict(second);
        match self.buckets.back_mut() {
            Some((s, c)) if *s == second => c[which] += by,
            _ => {
                let mut c = [0; 2];
                c[which] = by;
                self.buckets.push_back((second, c));
            }
        }
    }

    /// Both counts over the window ending at `now`.
    pub fn totals(&self, now: SimTime) -> [u64; 2] {
        let second = now.0 / 1_000_000;
        let mut t = [0; 2];
        for (s, c) in &self.buckets {
            if s + self.seconds > second {
                t[0] += c[0];
                t[1] += c[1];
            }
        }
        t
    }
}

/// The most latencies a [`LatencyWindow`] keeps: beyond it the oldest go first, so a very
/// busy node's percentiles cover less than the window.
pub const MAX_SAMPLES: usize = 20_000;

/// Latencies of the last `seconds` seconds, for percentiles.
#[derive(Clone, Debug, Default)]
pub struct LatencyWindow {
    seconds: u64,
    samples: VecDeque<(SimTime, u64)>,
}

impl LatencyWindow {
    /// A window of `seconds` seconds.
    pub fn new(seconds: u64) -> LatencyWindow {
        LatencyWindow {
            seconds: seconds.max(1),
            samples: VecDeque::new(),
        }
    }

    /// Records a latency of `us` microseconds at `now`.
    pub fn add(&mut self, now: SimTime, us: u64) {
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((now, us));
        let horizon = now.0.saturating_sub(self.seconds * 1_000_000);
        while self.samples.front().is_some_and(|&(t, _)| t.0 < horizon) {
            self.samples.pop_front();
        }
    }

    /// The `p`-th percentiles (nearest rank) of the latencies recorded since `now − window`,
    /// in microseconds; `None` with no sample.
    pub fn percentiles<const N: usize>(&self, now: SimTime, ps: [f64; N]) -> Option<[u64; N]> {
        let horizon = now.0.saturating_sub(self.seconds * 1_000_000);
        let mut v: Vec<u64> = self
            .samples
            .iter()
            .filter(|&&(t, _)| t.0 >= horizon)
            .map(|&(_, us)| us)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        Some(ps.map(|p| {
            // Nearest rank: the smallest value with at least p % of the samples at or below.
            let rank = libm::ceil(p / 100.0 * v.len() as f64) as usize;
            v[rank.clamp(1, v.len()) - 1]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> SimTime {
        SimTime(x * 1_000_000)
    }

    #[test]
    fn counts_leave_the_window_a_second_at_a_time() {
        let mut w = PairWindow::new(3);
        w.add(s(0), 0, 5);
        w.add(s(1), 1, 2);
        w.add(SimTime(2_500_000), 0, 1);
        assert_eq!(w.totals(SimTime(2_999_999)), [6, 2]);
        assert_eq!(w.totals(s(3)), [1, 2], "second 0 left");
        assert_eq!(w.totals(s(5)), [0, 0]);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut w = LatencyWindow::new(10);
        for us in 1..=100 {
            w.add(s(1), us);
        }
        assert_eq!(
            w.percentiles(s(1), [50.0, 95.0, 99.0, 100.0]),
            Some([50, 95, 99, 100])
        );
        assert_eq!(
            w.percentiles(s(12), [50.0]),
            None,
            "all older than the window"
        );
    }
}
