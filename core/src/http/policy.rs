//! The policies an edge applies to each call made over it, under resilience4j's configuration
//! names as its Spring Boot properties spell them (`timeLimiter.timeoutDuration`,
//! `retry.maxAttempts`, `circuitBreaker.failureRateThreshold`, `bulkhead.maxConcurrentCalls`),
//! and, for the two resilience4j does not have, the names of their sources: a retry budget's
//! `retryRatio` (the Google SRE book's per-client retry budget, and gRPC's retry throttling),
//! and adaptive throttling's `K` (the SRE book, "Handling Overload").
//!
//! Written on an edge as `"resilience": {"timeLimiter": {...}, "retry": {...}, ...}`. They
//! wrap a call in resilience4j's default aspect order: the retry outermost, then the circuit
//! breaker, then the time limiter, then the bulkhead (`docs/http.md`).

use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// The most attempts a retry may make (the first call included).
pub const MAX_ATTEMPTS: u32 = 10;

/// Every policy of one call edge; each is off unless given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resilience {
    /// A timeout per attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limiter: Option<TimeLimiterConfig>,
    /// Retries of failed attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A circuit breaker on the edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    /// A semaphore bulkhead: calls in flight over the edge at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulkhead: Option<BulkheadConfig>,
    /// A retry budget: retries allowed only while they stay under a ratio of the calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<RetryBudgetConfig>,
    /// Client-side adaptive throttling: attempts refused locally as the callee accepts fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_throttling: Option<AdaptiveThrottlingConfig>,
}

impl Resilience {
    /// True if no policy is set.
    pub fn is_empty(&self) -> bool {
        *self == Resilience::default()
    }
}

/// resilience4j's `TimeLimiter`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimeLimiterConfig {
    /// How long an attempt may take (default 1 s, as resilience4j).
    #[serde(default = "one_second")]
    pub timeout_duration: SimDuration,
    /// resilience4j cancels the caller's future (default true). The callee never hears of
    /// it: it finishes the abandoned work either way (counted as wasted), so this changes
    /// nothing in the simulation; it is accepted so that a resilience4j configuration reads.
    #[serde(default = "yes")]
    pub cancel_running_future: bool,
}

impl Default for TimeLimiterConfig {
    fn default() -> Self {
        TimeLimiterConfig {
            timeout_duration: one_second(),
            cancel_running_future: true,
        }
    }
}

/// AWS's backoff variants (Brooker, "Exponential Backoff and Jitter"), not resilience4j's.
/// With `expo(n) = min(cap, base · 2^n)`, `n` the retry's number from 1, `base` the
/// `waitDuration` and `cap` the `exponentialMaxWaitDuration`:
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// `uniform(0, expo(n))`.
    Full,
    /// `expo(n)/2 + uniform(0, expo(n)/2)`.
    Equal,
    /// `min(cap, uniform(base, previous · 3))`, the previous wait starting at `base`.
    Decorrelated,
}

impl Jitter {
    /// The name as documents write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

/// resilience4j's `Retry`: `maxAttempts` counts the first call. The wait before retry `n`
/// (from 1) is `waitDuration`; with `enableExponentialBackoff`, `waitDuration` multiplied by
/// `exponentialBackoffMultiplier` `n - 1` times, truncated to whole milliseconds at each step
/// and capped by `exponentialMaxWaitDuration`; with `enableRandomizedWait`, spread uniformly
/// over ±`randomizedWaitFactor` of it. `jitter` picks one of AWS's variants instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryConfig {
    /// Attempts in all, the first included (default 3), at most [`MAX_ATTEMPTS`].
    #[serde(default = "three")]
    pub max_attempts: u32,
    /// The wait before a retry (default 500 ms); 0 retries at once.
    #[serde(default = "half_second")]
    pub wait_duration: SimDuration,
    /// Multiply the wait at each retry.
    #[serde(default, skip_serializing_if = "no")]
    pub enable_exponential_backoff: bool,
    /// The multiplier (default 1.5, as resilience4j's `IntervalFunction`).
    #[serde(default = "one_and_a_half")]
    pub exponential_backoff_multiplier: f64,
    /// The longest wait exponential backoff reaches, if any (AWS's `cap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponential_max_wait_duration: Option<SimDuration>,
    /// Spread each wait at random.
    #[serde(default, skip_serializing_if = "no")]
    pub enable_randomized_wait: bool,
    /// How far (default 0.5: ±50 %), from 0 to 1.
    #[serde(default = "half")]
    pub randomized_wait_factor: f64,
    /// One of AWS's jittered backoffs instead of resilience4j's interval functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: three(),
            wait_duration: half_second(),
            enable_exponential_backoff: false,
            exponential_backoff_multiplier: one_and_a_half(),
            exponential_max_wait_duration: None,
            enable_randomized_wait: false,
            randomized_wait_factor: half(),
            jitter: None,
        }
    }
}

/// How a circuit breaker's sliding window counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlidingWindowType {
    /// The last `slidingWindowSize` calls.
    #[default]
    CountBased,
    /// The calls of the last `slidingWindowSize` seconds.
    TimeBased,
}

/// resilience4j's `CircuitBreaker`, with its defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CircuitBreakerConfig {
    /// Percentage of failed calls at which it opens, in (0, 100] (default 50).
    #[serde(default = "fifty")]
    pub failure_rate_threshold: f32,
    /// Percentage of slow calls at which it opens, in (0, 100] (default 100).
    #[serde(default = "hundred_f")]
    pub slow_call_rate_threshold: f32,
    /// A call that takes longer than this is slow (default 60 s).
    #[serde(default = "sixty_seconds")]
    pub slow_call_duration_threshold: SimDuration,
    /// `COUNT_BASED` (default) or `TIME_BASED`.
    #[serde(default)]
    pub sliding_window_type: SlidingWindowType,
    /// Calls, or seconds, in the window (default 100).
    #[serde(default = "hundred")]
    pub sliding_window_size: u32,
    /// Calls the window needs before it can open the breaker (default 100).
    #[serde(default = "hundred")]
    pub minimum_number_of_calls: u32,
    /// How long it stays open (default 60 s).
    #[serde(default = "sixty_seconds")]
    pub wait_duration_in_open_state: SimDuration,
    /// Calls let through while half-open (default 10).
    #[serde(default = "ten")]
    pub permitted_number_of_calls_in_half_open_state: u32,
    /// The longest it stays half-open before opening again; 0 (default) waits for the
    /// permitted calls however long they take.
    #[serde(default, skip_serializing_if = "SimDuration::is_zero")]
    pub max_wait_duration_in_half_open_state: SimDuration,
    /// Move from open to half-open by a timer, rather than on the first call after the wait.
    #[serde(default, skip_serializing_if = "no")]
    pub automatic_transition_from_open_to_half_open_enabled: bool,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_rate_threshold: fifty(),
            slow_call_rate_threshold: hundred_f(),
            slow_call_duration_threshold: sixty_seconds(),
            sliding_window_type: SlidingWindowType::CountBased,
            sliding_window_size: hundred(),
            minimum_number_of_calls: hundred(),
            wait_duration_in_open_state: sixty_seconds(),
            permitted_number_of_calls_in_half_open_state: ten(),
            max_wait_duration_in_half_open_state: SimDuration::ZERO,
            automatic_transition_from_open_to_half_open_enabled: false,
        }
    }
}

/// resilience4j's semaphore `Bulkhead`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BulkheadConfig {
    /// Calls in flight at once (default 25).
    #[serde(default = "twenty_five")]
    pub max_concurrent_calls: u32,
    /// How long a call waits for a slot before it is refused (default 0: at once).
    #[serde(default, skip_serializing_if = "SimDuration::is_zero")]
    pub max_wait_duration: SimDuration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent_calls: twenty_five(),
            max_wait_duration: SimDuration::ZERO,
        }
    }
}

/// A retry budget (the SRE book's per-client budget; gRPC's retry throttling has the same
/// aim): a retry is allowed only while the retries over the edge in the last `window` are
/// fewer than `retryRatio` times the calls in it. It caps the load retries add at
/// `1 + retryRatio` times the calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryBudgetConfig {
    /// Retries per call allowed (default 0.1, the SRE book's 10 %), from 0 to 10.
    #[serde(default = "tenth")]
    pub retry_ratio: f64,
    /// The window counted over, whole seconds (default 10 s).
    #[serde(default = "ten_seconds")]
    pub window: SimDuration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            retry_ratio: tenth(),
            window: ten_seconds(),
        }
    }
}

/// Client-side adaptive throttling (the SRE book, "Handling Overload"): each attempt is
/// refused locally with probability `max(0, (requests − K·accepts) / (requests + 1))`, counting
/// the attempts (`requests`) and the successful responses (`accepts`) of the last `window`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveThrottlingConfig {
    /// The multiplier (default 2), at least 1.
    #[serde(rename = "K", default = "two")]
    pub k: f64,
    /// The window counted over, whole seconds (default 120 s, the book's two minutes).
    #[serde(default = "two_minutes")]
    pub window: SimDuration,
}

impl Default for AdaptiveThrottlingConfig {
    fn default() -> Self {
        AdaptiveThrottlingConfig {
            k: two(),
            window: two_minutes(),
        }
    }
}

fn one_second() -> SimDuration {
    SimDuration::from_ms(1000)
}
fn half_second() -> SimDuration {
    SimDuration::from_ms(500)
}
fn sixty_seconds() -> SimDuration {
    SimDuration::from_ms(60_000)
}
fn ten_seconds() -> SimDuration {
    SimDuration::from_ms(10_000)
}
fn two_minutes() -> SimDuration {
    SimDuration::from_ms(120_000)
}
fn yes() -> bool {
    true
}
fn no(b: &bool) -> bool {
    !*b
}
fn three() -> u32 {
    3
}
fn ten() -> u32 {
    10
}
fn twenty_five() -> u32 {
    25
}
fn hundred() -> u32 {
    100
}
fn one_and_a_half() -> f64 {
    1.5
}
fn half() -> f64 {
    0.5
}
fn tenth() -> f64 {
    0.1
}
fn two() -> f64 {
    2.0
}
fn fifty() -> f32 {
    50.0
}
fn hundred_f() -> f32 {
    100.0
}
