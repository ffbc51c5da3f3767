//! The numbers BullMQ orders jobs by, as its Lua scripts compute them: a prioritized job's
//! score (`includes/getPriorityScore.lua`), a delayed job's score
//! (`includes/getDelayedScore.lua`), and the delay before a retry (`backoffs.js`).

use super::options::{Backoff, BackoffType};

/// 2^32: a priority's weight in a prioritized job's score.
const PRIORITY_SHIFT: i64 = 0x1_0000_0000;

/// A delayed job's score is its due time in milliseconds times this, plus a sequence number.
pub const DELAYED_SHIFT: u64 = 0x1000;

/// A prioritized job's score: `priority * 2^32 + counter mod 2^32`, where the counter (`pc`)
/// rises with every prioritized add. Lower scores are taken first; equal priorities are FIFO.
pub fn priority_score(priority: i64, counter: u64) -> i64 {
    priority * PRIORITY_SHIFT + (counter % PRIORITY_SHIFT as u64) as i64
}

/// A delayed job's score for a job due at `due_ms`, given the highest score already in the set
/// for that millisecond (if any): the millisecond times 4096, and after it, one more than the
/// last job due in the same millisecond (capped at the millisecond's last slot). Jobs due in
/// the same millisecond keep the order they were delayed in.
pub fn delayed_score(due_ms: u64, highest_same_ms: Option<u64>) -> u64 {
    let min = due_ms * DELAYED_SHIFT;
    let max = (due_ms + 1) * DELAYED_SHIFT - 1;
    match highest_same_ms {
        Some(s) if (min..=max).contains(&s) => (s + 1).min(max),
        Some(_) | None => min,
    }
}

/// The millisecond a delayed score is due at.
pub fn due_ms(score: u64) -> u64 {
    score / DELAYED_SHIFT
}

/// The delay in milliseconds before retrying a job whose attempt number `attempts_made` (1 for
/// the first) just failed, as `Backoffs.calculate` computes it; `None` without a backoff (the
/// job is retried at once). `random` is a draw in `[0, 1)`, taken only when there is jitter
/// (`Math.random()` in BullMQ; the run's seeded generator here).
pub fn backoff_delay(
    backoff: Option<&Backoff>,
    attempts_made: u32,
    random: impl FnOnce() -> f64,
) -> Option<u64> {
    let (kind, delay, jitter) = match backoff? {
        // `Backoffs.normalize`: a number is a fixed delay.
        Backoff::Millis(ms) => (BackoffType::Fixed, *ms, 0.0),
        Backoff::Strategy(s) => (s.kind, s.delay.unwrap_or(0.0), s.jitter.unwrap_or(0.0)),
    };
    let base = match kind {
        BackoffType::Fixed => delay,
        // `Math.round(Math.pow(2, attemptsMade - 1) * delay)`: JavaScript rounds halves up.
        BackoffType::Exponential => {
            let exp = f64::from(attempts_made.saturating_sub(1));
            libm::floor(libm::pow(2.0, exp) * delay + 0.5)
        }
    };
    // Subtractive jitter: uniform in [base * (1 - jitter), base), floored.
    let ms = if jitter > 0.0 {
        libm::floor(random() * base * jitter + base * (1.0 - jitter))
    } else {
        base
    };
    Some(if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bullmq::options::BackoffStrategy;

    fn exponential(delay: f64, jitter: Option<f64>) -> Backoff {
        Backoff::Strategy(BackoffStrategy {
            kind: BackoffType::Exponential,
            delay: Some(delay),
            jitter,
        })
    }

    #[test]
    fn ct_bmq_backoff_1_exponential_delays_double() {
        let b = exponential(1000.0, None);
        let delays: Vec<u64> = (1..=4)
            .map(|n| backoff_delay(Some(&b), n, || unreachable!("no jitter, no draw")).unwrap())
            .collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000]);
    }

    #[test]
    fn fixed_and_number_backoffs_repeat_and_none_retries_at_once() {
        let fixed = Backoff::Strategy(BackoffStrategy {
            kind: BackoffType::Fixed,
            delay: Some(300.0),
            jitter: None,
        });
        assert_eq!(backoff_delay(Some(&fixed), 3, || 0.5), Some(300));
        assert_eq!(
            backoff_delay(Some(&Backoff::Millis(250.0)), 7, || 0.5),
            Some(250)
        );
        assert_eq!(backoff_delay(None, 1, || 0.5), None);
        // Exponential rounds half up, as Math.round does: 2^1 * 0.75 = 1.5 -> 2.
        assert_eq!(
            backoff_delay(Some(&exponential(0.75, None)), 2, || 0.0),
            Some(2)
        );
    }

    #[test]
    fn jitter_takes_away_up_to_its_share_of_the_delay() {
        let b = exponential(1000.0, Some(0.5));
        // Third attempt: max 4000; the draw scales the jittered half.
        assert_eq!(backoff_delay(Some(&b), 3, || 0.0), Some(2000));
        assert_eq!(backoff_delay(Some(&b), 3, || 0.5), Some(3000));
        assert_eq!(backoff_delay(Some(&b), 3, || 0.999_999), Some(3999));
        let full = exponential(100.0, Some(1.0));
        assert_eq!(backoff_delay(Some(&full), 1, || 0.0), Some(0));
        assert_eq!(backoff_delay(Some(&full), 1, || 0.25), Some(25));
    }

    #[test]
    fn scores_order_priorities_then_insertion_and_delays_by_millisecond() {
        // CT-BMQ-PRIO-1's order by score: B{5}, C{7}, A{10} whatever the order of adding.
        let a = priority_score(10, 1);
        let b = priority_score(5, 2);
        let c = priority_score(7, 3);
        let mut v = [(a, 'A'), (b, 'B'), (c, 'C')];
        v.sort();
        assert_eq!(v.map(|x| x.1), ['B', 'C', 'A']);
        assert!(
            priority_score(5, 9) < priority_score(6, 1),
            "priority first"
        );
        assert!(priority_score(5, 1) < priority_score(5, 2), "then FIFO");
        assert!(
            priority_score(-1, 5) < priority_score(1, 1),
            "negative before 1"
        );
        let first = delayed_score(1000, None);
        let second = delayed_score(1000, Some(first));
        assert_eq!((first, second), (1000 * 4096, 1000 * 4096 + 1));
        assert_eq!(delayed_score(1001, Some(second)), 1001 * 4096);
        assert_eq!(
            delayed_score(1000, Some(1001 * 4096 - 1)),
            1001 * 4096 - 1,
            "capped"
        );
        assert_eq!(due_ms(second), 1000);
    }
}
