//! The wait before each retry: resilience4j's interval functions (`IntervalFunction`), and
//! AWS's jittered backoffs. Pure functions of the attempt number, the settings and, for the
//! random ones, one draw from the run's RNG.
//!
//! resilience4j counts in whole milliseconds (`Duration.toMillis()`, then `long` arithmetic),
//! and its exponential backoff truncates at every step (500, 750, 1125, 1687, 2530 ms for a
//! multiplier of 1.5), so these do the same. AWS's variants are computed in microseconds.

use super::policy::{Jitter, RetryConfig};
use crate::rng::SimRng;
use crate::time::SimDuration;

/// resilience4j's `ofExponentialBackoff(initial, multiplier)` at attempt `n` (1 = the first
/// retry): `x → (long)(x · multiplier)` applied `n − 1` times to `initial`, in milliseconds.
pub fn exponential_ms(initial_ms: u64, multiplier: f64, n: u32) -> u64 {
    let mut x = initial_ms;
    for _ in 1..n {
        // Java's `(long)` cast truncates toward zero and saturates, as `as u64` does.
        x = (x as f64 * multiplier) as u64;
    }
    x
}

/// resilience4j's `randomize(v, f)`: uniform over `[v(1 − f), v(1 + f) + 1)`, at least 1, cut
/// to whole milliseconds; `u` is the uniform draw from `[0, 1)`.
pub fn randomize_ms(v: u64, factor: f64, u: f64) -> u64 {
    let v = v as f64;
    let delta = factor * v;
    let r = (v - delta) + u * (2.0 * delta + 1.0);
    r.max(1.0) as u64
}

/// AWS's `expo(n) = min(cap, base · 2^n)`, in microseconds, with `n` from 1 for the first retry
/// as the AWS simulator counts (so the first retry's bound is twice the base).
pub fn aws_expo(base: SimDuration, cap: SimDuration, n: u32) -> SimDuration {
    let shifted = if n >= 64 {
        u64::MAX
    } else {
        base.0.saturating_mul(1u64 << n)
    };
    SimDuration(shifted.min(cap.0))
}

/// The state a sequence of retries carries from one wait to the next: decorrelated jitter
/// grows from the previous wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackoffState {
    /// The previous wait, for decorrelated jitter (`None` before the first retry).
    pub previous: Option<SimDuration>,
}

/// The wait before retry `n` (1 = the first retry, after the first attempt failed) under
/// `retry`, drawing from `rng` only when the policy is random.
pub fn wait(
    retry: &RetryConfig,
    n: u32,
    state: &mut BackoffState,
    rng: &mut SimRng,
) -> SimDuration {
    let cap = retry
        .exponential_max_wait_duration
        .unwrap_or(SimDuration(u64::MAX));
    let wait = match retry.jitter {
        Some(j) => {
            let base = retry.wait_duration;
            match j {
                Jitter::Full => {
                    let v = aws_expo(base, cap, n);
                    SimDuration(rng.range_inclusive(0, v.0))
                }
                Jitter::Equal => {
                    let v = aws_expo(base, cap, n);
                    let half = v.0 / 2;
                    SimDuration(half + rng.range_inclusive(0, v.0 - half))
                }
                Jitter::Decorrelated => {
                    let previous = state.previous.unwrap_or(base);
                    let hi = previous.0.saturating_mul(3).max(base.0);
                    SimDuration(rng.range_inclusive(base.0, hi).min(cap.0))
                }
            }
        }
        None => {
            let initial = retry.wait_duration.0 / 1_000; // Duration.toMillis()
            let cap_ms = cap.0 / 1_000;
            let ms = match (
                retry.enable_exponential_backoff,
                retry.enable_randomized_wait,
            ) {
                (false, false) => initial,
                (false, true) => {
                    randomize_ms(initial, retry.randomized_wait_factor, rng.next_f64())
                }
                (true, false) => {
                    exponential_ms(initial, retry.exponential_backoff_multiplier, n).min(cap_ms)
                }
                (true, true) => {
                    let v = exponential_ms(initial, retry.exponential_backoff_multiplier, n);
                    randomize_ms(v, retry.randomized_wait_factor, rng.next_f64()).min(cap_ms)
                }
            };
            SimDuration(ms.saturating_mul(1_000))
        }
    };
    state.previous = Some(wait);
    wait
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resilience4j_exponential_backoff_truncates_at_each_step() {
        // SEMANTICS §4.2: 500, 750, 1125, 1687, 2530 (1687.5 → 1687, then 1687 · 1.5 = 2530.5).
        let seq: Vec<u64> = (1..=5).map(|n| exponential_ms(500, 1.5, n)).collect();
        assert_eq!(seq, [500, 750, 1125, 1687, 2530]);
    }

    #[test]
    fn exponential_backoff_with_a_cap_and_a_multiplier_of_two() {
        let retry = RetryConfig {
            max_attempts: 6,
            wait_duration: SimDuration::from_ms(100),
            enable_exponential_backoff: true,
            exponential_backoff_multiplier: 2.0,
            exponential_max_wait_duration: Some(SimDuration::from_ms(500)),
            ..RetryConfig::default()
        };
        let mut rng = SimRng::new(1);
        let mut st = BackoffState::default();
        let seq: Vec<u64> = (1..=5)
            .map(|n| wait(&retry, n, &mut st, &mut rng).0 / 1_000)
            .collect();
        assert_eq!(seq, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn a_fixed_wait_is_the_same_each_time_and_draws_nothing() {
        let retry = RetryConfig::default();
        let mut rng = SimRng::new(7);
        let before = rng.clone().next_u64();
        let mut st = BackoffState::default();
        for n in 1..=3 {
            assert_eq!(
                wait(&retry, n, &mut st, &mut rng),
                SimDuration::from_ms(500)
            );
        }
        assert_eq!(rng.next_u64(), before, "no draw for a fixed wait");
    }

    #[test]
    fn randomize_covers_v_plus_or_minus_the_factor() {
        // uniform on [v(1-f), v(1+f)+1): u = 0 gives the low end, u → 1 the high end.
        assert_eq!(randomize_ms(1000, 0.5, 0.0), 500);
        assert_eq!(randomize_ms(1000, 0.5, 0.999_999_9), 1500);
        assert_eq!(randomize_ms(1000, 0.0, 0.5), 1000);
        assert_eq!(randomize_ms(0, 0.5, 0.0), 1, "at least 1 ms");
    }

    #[test]
    fn aws_bounds_double_from_twice_the_base_and_stop_at_the_cap() {
        let base = SimDuration::from_ms(100);
        let cap = SimDuration::from_ms(1000);
        let seq: Vec<u64> = (1..=5).map(|n| aws_expo(base, cap, n).0 / 1_000).collect();
        assert_eq!(seq, [200, 400, 800, 1000, 1000]);
        assert_eq!(aws_expo(base, cap, 200), cap, "no overflow");
    }

    #[test]
    fn aws_jitters_stay_within_their_bounds() {
        let base = SimDuration::from_ms(100);
        let cap = SimDuration::from_ms(1000);
        for seed in 0..200 {
            let mut rng = SimRng::new(seed);
            for (jitter, lo_of, hi_of) in [(Jitter::Full, 0.0, 1.0), (Jitter::Equal, 0.5, 1.0)] {
                let retry = RetryConfig {
                    wait_duration: base,
                    exponential_max_wait_duration: Some(cap),
                    jitter: Some(jitter),
                    ..RetryConfig::default()
                };
                let mut st = BackoffState::default();
                for n in 1..=6 {
                    let v = aws_expo(base, cap, n).0 as f64;
                    let w = wait(&retry, n, &mut st, &mut rng).0 as f64;
                    assert!(
                        w >= v * lo_of && w <= v * hi_of,
                        "seed {seed}: {jitter:?} retry {n} waited {w} µs outside [{}, {}]",
                        v * lo_of,
                        v * hi_of
                    );
                }
            }
            let retry = RetryConfig {
                wait_duration: base,
                exponential_max_wait_duration: Some(cap),
                jitter: Some(Jitter::Decorrelated),
                ..RetryConfig::default()
            };
            let mut st = BackoffState::default();
            let mut prev = base.0;
            for n in 1..=6 {
                let w = wait(&retry, n, &mut st, &mut rng).0;
                assert!(
                    w >= base.0 && w <= (prev * 3).min(cap.0),
                    "seed {seed}: decorrelated retry {n} waited {w} µs, previous {prev}"
                );
                prev = w;
            }
        }
    }
}
