//! A distribution of staleness windows (µs) in constant memory: a log-linear histogram, as
//! HdrHistogram keeps one, with the exact smallest and largest value.
//!
//! Values below 128 µs have a bucket each; above, each power of two is cut into 64 buckets,
//! so a percentile is the lower edge of its value's bucket, less than 1/64 (1.6 %) below it,
//! and never outside the smallest and largest value seen (with one value, or all equal, every
//! percentile is exact). The `hdrhistogram` crate reports the bucket's upper edge, not clamped
//! to the largest value, so a constant window would not read back exactly; this does, in
//! about 60 lines.

use serde::Serialize;

/// Linear buckets below this many µs.
const LINEAR: u64 = 128;
/// Buckets per power of two above it.
const SUB: u64 = 64;

/// A distribution of durations in µs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Counts per bucket, grown as values need.
    counts: Vec<u64>,
    /// Values recorded.
    count: u64,
    /// Their sum, µs.
    total: u64,
    /// The smallest and largest recorded.
    min: u64,
    max: u64,
}

/// A distribution's summary: p50, p99 and the largest value, µs, with how many and their
/// sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Their sum, µs (a chart takes the mean of an interval from two summaries).
    pub total_us: u64,
    /// The median, µs.
    pub p50_us: u64,
    /// The 99th percentile, µs.
    pub p99_us: u64,
    /// The largest, µs (exact).
    pub max_us: u64,
}

fn bucket(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    // v in [2^e, 2^(e+1)), e ≥ 7: 64 buckets of 2^(e-6) each.
    let e = 63 - u64::from(v.leading_zeros());
    let sub = (v >> (e - 6)) - SUB;
    (LINEAR + (e - 7) * SUB + sub) as usize
}

fn lower_edge(b: usize) -> u64 {
    let b = b as u64;
    if b < LINEAR {
        return b;
    }
    let e = (b - LINEAR) / SUB + 7;
    let sub = (b - LINEAR) % SUB;
    (SUB + sub) << (e - 6)
}

impl Histogram {
    /// Records one value.
    pub fn record(&mut self, v: u64) {
        let b = bucket(v);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.count += 1;
        self.total = self.total.saturating_add(v);
    }

    /// The `p`-th percentile (nearest rank), or `None` with no values.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = libm::ceil(p / 100.0 * self.count as f64).max(1.0) as u64;
        if rank >= self.count {
            return Some(self.max); // the largest is kept exactly
        }
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(lower_edge(b).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// p50, p99 and the largest value, with the count and sum.
    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count,
            total_us: self.total,
            p50_us: self.percentile(50.0).unwrap_or(0),
            p99_us: self.percentile(99.0).unwrap_or(0),
            max_us: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order_and_edges_stay_within_a_64th() {
        let mut last = 0;
        for v in (0..5_000u64).chain((5_000..10_000_000_000).step_by(9_999_991)) {
            let b = bucket(v);
            assert!(b >= last, "bucket of {v} went back");
            last = b;
            let edge = lower_edge(b);
            assert!(edge <= v, "{v}: edge {edge} above it");
            assert!(
                (v - edge) * 64 <= v.max(1),
                "{v}: edge {edge} too far below"
            );
            assert_eq!(bucket(edge), b, "{v}: edge {edge} in another bucket");
        }
    }

    #[test]
    fn a_constant_window_reads_back_exactly() {
        let mut h = Histogram::default();
        for _ in 0..10 {
            h.record(31_234);
        }
        assert_eq!(
            h.summary(),
            Summary {
                count: 10,
                total_us: 312_340,
                p50_us: 31_234,
                p99_us: 31_234,
                max_us: 31_234
            }
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50.0), None);
        for v in 1..=100 {
            h.record(v);
        }
        // Below 128 µs every value has its own bucket: exact ranks.
        assert_eq!(h.percentile(50.0), Some(50));
        assert_eq!(h.percentile(99.0), Some(99));
        assert_eq!(h.percentile(100.0), Some(100));
        h.record(1_000_000);
        assert_eq!(h.summary().max_us, 1_000_000);
        assert_eq!(h.percentile(100.0), Some(1_000_000));
    }
}
