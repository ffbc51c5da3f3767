//! Simulated time: integer microseconds, never wall-clock.
//!
//! Floating-point time drifts and differs between platforms; an integer count of microseconds
//! does neither. Durations in scenario files are written with a unit (`"250ms"`, `"1.5s"`), and
//! parsing them is exact: `"0.1s"` is 100 000 µs, not 99 999.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A moment of simulated time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable moment; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// This moment as microseconds since the start.
    pub fn as_us(self) -> u64 {
        self.0
    }

    /// The time elapsed since `earlier`; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `us` microseconds.
    pub const fn from_us(us: u64) -> Self {
        SimDuration(us)
    }
    /// A duration of `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Self {
        SimDuration(ms * 1_000)
    }
    /// True for no time at all.
    pub const fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000)
    }
    /// This duration in microseconds.
    pub fn as_us(self) -> u64 {
        self.0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Panics (in debug) if `rhs` is later: time differences are never negative here.
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(self >= rhs, "negative time difference");
        SimDuration(self.0 - rhs.0)
    }
}

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text had no number in front of the unit.
    #[error("expected a duration like \"250ms\", \"1.5s\" or \"2m\", got {0:?}")]
    Malformed(String),
    /// The unit is not one of `us`, `ms`, `s`, `m`, `h`.
    #[error("unknown unit in {0:?}: use us, ms, s, m or h")]
    UnknownUnit(String),
    /// More decimal places than the unit can express in whole microseconds.
    #[error("{0:?} is finer than one microsecond")]
    TooPrecise(String),
    /// Larger than the simulator can represent.
    #[error("{0:?} is too large")]
    Overflow(String),
}

impl SimDuration {
    /// Parses `"<number><unit>"` exactly, where the unit is `us`, `ms`, `s`, `m` or `h` and the
    /// number is a non-negative decimal (`"1.5s"`, `"250ms"`, `"0us"`).
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::UnknownUnit(text.to_owned()))?;
        let (num, unit) = t.split_at(split);
        let scale: u64 = match unit.trim() {
            "us" | "µs" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" | "min" => 60_000_000,
            "h" => 3_600_000_000,
            _ => return Err(DurationError::UnknownUnit(text.to_owned())),
        };
        let (int_part, frac_part) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(DurationError::Malformed(text.to_owned()));
        }
        let overflow = || DurationError::Overflow(text.to_owned());
        let whole: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut us = whole.checked_mul(scale).ok_or_else(overflow)?;
        // The fraction F / 10^n of the unit is exact when F * scale is a multiple of 10^n.
        let frac = frac_part.trim_end_matches('0');
        if !frac.is_empty() {
            if frac.len() > 18 {
                return Err(DurationError::TooPrecise(text.to_owned()));
            }
            let f: u128 = frac
                .parse()
                .map_err(|_| DurationError::Malformed(text.to_owned()))?;
            let numerator = f * u128::from(scale);
            let denominator = 10u128.pow(frac.len() as u32);
            if !numerator.is_multiple_of(denominator) {
                return Err(DurationError::TooPrecise(text.to_owned()));
            }
            let part = u64::try_from(numerator / denominator).map_err(|_| overflow())?;
            us = us.checked_add(part).ok_or_else(overflow)?;
        }
        Ok(SimDuration(us))
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact form: `1s`, `1500ms`, `250us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us != 0 && us.is_multiple_of(1_000_000) {
            write!(f, "{}s", us / 1_000_000)
        } else if us != 0 && us.is_multiple_of(1_000) {
            write!(f, "{}ms", us / 1_000)
        } else {
            write!(f, "{us}us")
        }
    }
}

impl fmt::Display for SimTime {
    /// Seconds with millisecond precision, as the clock on the page shows it: `12.345s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / 1_000;
        write!(f, "{}.{:03}s", ms / 1_000, ms % 1_000)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string with a unit, like \"250ms\" or \"1.5s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                SimDuration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SimDuration(self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SimTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SimDuration::deserialize(d).map(|x| SimTime(x.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_exactly() {
        assert_eq!(SimDuration::parse("250ms"), Ok(SimDuration(250_000)));
        assert_eq!(SimDuration::parse("1.5s"), Ok(SimDuration(1_500_000)));
        assert_eq!(SimDuration::parse("0.1s"), Ok(SimDuration(100_000)));
        assert_eq!(SimDuration::parse("2m"), Ok(SimDuration(120_000_000)));
        assert_eq!(SimDuration::parse("1h"), Ok(SimDuration(3_600_000_000)));
        assert_eq!(SimDuration::parse("7us"), Ok(SimDuration(7)));
        assert_eq!(SimDuration::parse(".5ms"), Ok(SimDuration(500)));
        assert_eq!(SimDuration::parse("1.250ms"), Ok(SimDuration(1_250)));
        assert_eq!(
            SimDuration::parse("0.00000005m"),
            Ok(SimDuration(3)),
            "0.6 µs × 5 is whole"
        );
        assert_eq!(
            SimDuration::parse("0.5000000000000000000000s"),
            Ok(SimDuration(500_000))
        );
    }

    #[test]
    fn refuses_bad_durations() {
        assert!(matches!(
            SimDuration::parse("5"),
            Err(DurationError::UnknownUnit(_))
        ));
        assert!(matches!(
            SimDuration::parse("5 days"),
            Err(DurationError::UnknownUnit(_))
        ));
        assert!(matches!(
            SimDuration::parse("ms"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            SimDuration::parse("1.2.3s"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            SimDuration::parse("0.5us"),
            Err(DurationError::TooPrecise(_))
        ));
        assert!(matches!(
            SimDuration::parse("99999999999999999999s"),
            Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            SimDuration::parse("-1s"),
            Err(DurationError::Malformed(_)) | Err(DurationError::UnknownUnit(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for us in [0, 1, 999, 1_000, 1_500, 1_000_000, 1_500_000, 3_600_000_000] {
            let d = SimDuration(us);
            assert_eq!(SimDuration::parse(&d.to_string()), Ok(d), "{d}");
        }
        assert_eq!(SimTime(12_345_678).to_string(), "12.345s");
    }
}
