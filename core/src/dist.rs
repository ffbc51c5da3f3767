//! Distributions of durations: processing times, link latencies, inter-arrival gaps.

use crate::rng::SimRng;
use crate::time::SimDuration;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A distribution of durations, as written in a scenario.
///
/// A bare string is a constant: `"5ms"`. Otherwise an object tagged by `dist`:
/// `{"dist": "uniform", "min": "20ms", "max": "80ms"}` or
/// `{"dist": "exponential", "mean": "10ms"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum DurationDist {
    /// Always the same duration.
    Constant {
        /// The duration.
        value: SimDuration,
    },
    /// Uniform between `min` and `max`, inclusive, at microsecond resolution.
    Uniform {
        /// The shortest duration.
        min: SimDuration,
        /// The longest duration.
        max: SimDuration,
    },
    /// Exponential with the given mean (memoryless; the classic model of service times).
    Exponential {
        /// The mean duration.
        mean: SimDuration,
    },
}

impl DurationDist {
    /// True if a draw can be exactly zero.
    pub fn can_be_zero(&self) -> bool {
        match *self {
            DurationDist::Constant { value } => value == SimDuration::ZERO,
            DurationDist::Uniform { min, .. } => min == SimDuration::ZERO,
            DurationDist::Exponential { mean } => mean == SimDuration::ZERO,
        }
    }

    /// A constant distribution.
    pub fn constant(d: SimDuration) -> Self {
        DurationDist::Constant { value: d }
    }

    /// Draws one duration. A constant draws nothing from the RNG, so adding one does not shift
    /// the random stream of the rest of the run.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            DurationDist::Constant { value } => value,
            DurationDist::Uniform { min, max } => SimDuration(rng.range_inclusive(min.0, max.0)),
            DurationDist::Exponential { mean } => {
                let x = rng.exponential(mean.0 as f64);
                // Cap at 1000x the mean: a bound on everything, and no overflow on cast.
                SimDuration(libm::round(x.min(mean.0 as f64 * 1000.0)) as u64)
            }
        }
    }

    /// The mean of the distribution, for display and capacity estimates.
    pub fn mean(&self) -> SimDuration {
        match *self {
            DurationDist::Constant { value } => value,
            DurationDist::Uniform { min, max } => SimDuration(min.0 / 2 + max.0 / 2),
            DurationDist::Exponential { mean } => mean,
        }
    }
}

impl fmt::Display for DurationDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationDist::Constant { value } => write!(f, "{value}"),
            DurationDist::Uniform { min, max } => write!(f, "{min}–{max}"),
            DurationDist::Exponential { mean } => write!(f, "exp(mean {mean})"),
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    Constant { value: SimDuration },
    Uniform { min: SimDuration, max: SimDuration },
    Exponential { mean: SimDuration },
}

impl<'de> Deserialize<'de> for DurationDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DurationDist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration like \"5ms\", or {\"dist\": \"uniform\"|\"exponential\"|\"constant\", ...}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DurationDist, E> {
                SimDuration::parse(v)
                    .map(DurationDist::constant)
                    .map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<DurationDist, A::Error> {
                let t = Tagged::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(match t {
                    Tagged::Constant { value } => DurationDist::Constant { value },
                    Tagged::Uniform { min, max } => {
                        if min > max {
                            return Err(serde::de::Error::custom(format!(
                                "uniform min {min} is greater than max {max}"
                            )));
                        }
                        DurationDist::Uniform { min, max }
                    }
                    Tagged::Exponential { mean } => DurationDist::Exponential { mean },
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let c: DurationDist = serde_json::from_str("\"5ms\"").unwrap();
        assert_eq!(c, DurationDist::constant(SimDuration::from_ms(5)));
        let u: DurationDist =
            serde_json::from_str(r#"{"dist":"uniform","min":"20ms","max":"80ms"}"#).unwrap();
        assert_eq!(
            u,
            DurationDist::Uniform {
                min: SimDuration::from_ms(20),
                max: SimDuration::from_ms(80)
            }
        );
        let bad =
            serde_json::from_str::<DurationDist>(r#"{"dist":"uniform","min":"80ms","max":"20ms"}"#);
        assert!(bad.unwrap_err().to_string().contains("greater than max"));
        let bad = serde_json::from_str::<DurationDist>(r#"{"dist":"gamma","mean":"1s"}"#);
        assert!(bad.unwrap_err().to_string().contains("unknown variant"));
    }

    #[test]
    fn samples_stay_in_range() {
        let mut rng = SimRng::new(3);
        let u = DurationDist::Uniform {
            min: SimDuration(10),
            max: SimDuration(20),
        };
        let mut seen_min = false;
        let mut seen_max = false;
        for _ in 0..5_000 {
            let d = u.sample(&mut rng).0;
            assert!((10..=20).contains(&d));
            seen_min |= d == 10;
            seen_max |= d == 20;
        }
        assert!(
            seen_min && seen_max,
            "both ends of the uniform range are reachable"
        );
    }

    #[test]
    fn serialises_back_to_the_tagged_form() {
        let d = DurationDist::Exponential {
            mean: SimDuration::from_ms(10),
        };
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"dist":"exponential","mean":"10ms"}"#);
        assert_eq!(serde_json::from_str::<DurationDist>(&json).unwrap(), d);
    }
}
