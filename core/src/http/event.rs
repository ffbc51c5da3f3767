//! The request-response model's events. Movement (a request or a response on an edge) is the
//! kernel's `sent`; these say what each step of a call means. Every attempt carries its
//! request's correlation id and its parent (the request it was made for: a client's request,
//! or the request a service was serving when it called).

use super::breaker::BreakerState;
use crate::id::{EdgeId, MessageId, NodeId};
use crate::time::{SimDuration, SimTime};

/// How a request was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 200: the handler ran and every call it made succeeded.
    Ok,
    /// 500: the service failed on its own (`error_rate`).
    Error,
    /// 502: a call the handler made failed.
    BadGateway,
    /// 503: the accept queue was full.
    Unavailable,
    /// 503 from a load balancer: no healthy upstream.
    NoUpstream,
    /// The node was down: connection refused, at once.
    Refused,
    /// The node crashed (or was removed) while it held the request: connection reset.
    Reset,
}

impl Status {
    /// The status as trace lines write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::BadGateway => "bad_gateway",
            Status::Unavailable => "unavailable",
            Status::NoUpstream => "no_upstream",
            Status::Refused => "refused",
            Status::Reset => "reset",
        }
    }

    /// The HTTP status code, or 0 where there is no response (refused, reset).
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::Error => 500,
            Status::BadGateway => 502,
            Status::Unavailable | Status::NoUpstream => 503,
            Status::Refused | Status::Reset => 0,
        }
    }

    /// True for a success.
    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }
}

/// Why an attempt was refused before it left its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// The circuit breaker is open, or half-open with no permit left
    /// (`CallNotPermittedException`).
    Breaker,
    /// The bulkhead is full (`BulkheadFullException`), at once or after `maxWaitDuration`.
    Bulkhead,
    /// Adaptive throttling refused it.
    Throttled,
    /// The caller has no live edge to the node its handler calls.
    NoRoute,
}

impl Refusal {
    /// The reason as trace lines write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Breaker => "breaker_open",
            Refusal::Bulkhead => "bulkhead_full",
            Refusal::Throttled => "throttled",
            Refusal::NoRoute => "no_route",
        }
    }
}

/// Something the request-response model did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpEvent {
    /// A client began a request (`request` is its message, and the correlation id of every
    /// attempt made for it, downstream included).
    Request {
        /// The client.
        client: NodeId,
        /// The request.
        request: MessageId,
    },
    /// An attempt left its caller over `edge` (a `sent` follows).
    Attempt {
        /// The attempt's message.
        message: MessageId,
        /// The request it was made for.
        parent: MessageId,
        /// The call edge.
        edge: EdgeId,
        /// 1 for the first attempt, 2 for the first retry…
        attempt: u32,
    },
    /// A service put a request in its accept queue.
    Queued {
        /// The request.
        message: MessageId,
        /// The service.
        node: NodeId,
        /// Requests in the queue, this one included.
        depth: u32,
    },
    /// A worker took a request; its work ends at `until`.
    Started {
        /// The request.
        message: MessageId,
        /// The service.
        node: NodeId,
        /// When the work ends (its calls follow).
        until: SimTime,
    },
    /// A node answered a request (a `sent` of the response follows).
    Responded {
        /// The request.
        message: MessageId,
        /// The service, or the load balancer or node that refused it.
        node: NodeId,
        /// How.
        status: Status,
    },
    /// An attempt's response reached its caller in time.
    Answered {
        /// The attempt.
        message: MessageId,
        /// The call edge.
        edge: EdgeId,
        /// How it was answered.
        status: Status,
        /// Since the attempt left.
        latency: SimDuration,
    },
    /// An attempt's `timeoutDuration` passed with no response: its caller gave up on it (the
    /// callee does not know, and finishes the work).
    TimedOut {
        /// The attempt.
        message: MessageId,
        /// The call edge.
        edge: EdgeId,
    },
    /// A response came after its caller gave up: the callee's work was wasted.
    Late {
        /// The attempt.
        message: MessageId,
        /// The call edge.
        edge: EdgeId,
    },
    /// An attempt was refused before it left.
    Refused {
        /// The call edge.
        edge: EdgeId,
        /// The request it was for.
        correlation: MessageId,
        /// Why.
        reason: Refusal,
    },
    /// A failed attempt will be tried again after `delay`.
    Retrying {
        /// The call edge.
        edge: EdgeId,
        /// The request.
        correlation: MessageId,
        /// The number the next attempt will have.
        attempt: u32,
        /// The wait first.
        delay: SimDuration,
    },
    /// A service's handler step could not be carried out (its store, exchange or queue, or
    /// the edge to it, was removed by a live edit): the handler throws, the request fails.
    StepFailed {
        /// The service.
        node: NodeId,
        /// The request being served.
        message: MessageId,
        /// Why, in words.
        reason: Box<str>,
    },
    /// A retry was not made: the retry budget is spent.
    BudgetExhausted {
        /// The call edge.
        edge: EdgeId,
        /// The request.
        correlation: MessageId,
    },
    /// A client's request ended.
    RequestEnded {
        /// The client.
        client: NodeId,
        /// The request.
        request: MessageId,
        /// Succeeded (within the deadline, if it has one).
        ok: bool,
        /// How long it took.
        latency: SimDuration,
    },
    /// An edge's circuit breaker changed state.
    Breaker {
        /// The call edge.
        edge: EdgeId,
        /// The new state.
        state: BreakerState,
        /// While open: when it lets a call try again.
        until: Option<SimTime>,
    },
    /// A load balancer's health checks took an upstream out, or put it back.
    Health {
        /// The load balancer.
        node: NodeId,
        /// The upstream instance.
        upstream: NodeId,
        /// Now healthy.
        healthy: bool,
    },
}

impl HttpEvent {
    /// The event's name as written in traces.
    pub fn name(&self) -> &'static str {
        match self {
            HttpEvent::Request { .. } => "request",
            HttpEvent::Attempt { .. } => "attempt",
            HttpEvent::Queued { .. } => "queued",
            HttpEvent::Started { .. } => "started",
            HttpEvent::Responded { .. } => "responded",
            HttpEvent::Answered { .. } => "answered",
            HttpEvent::TimedOut { .. } => "timed_out",
            HttpEvent::Late { .. } => "late",
            HttpEvent::Refused { .. } => "refused",
            HttpEvent::Retrying { .. } => "retrying",
            HttpEvent::BudgetExhausted { .. } => "budget_exhausted",
            HttpEvent::StepFailed { .. } => "step_failed",
            HttpEvent::RequestEnded { .. } => "request_ended",
            HttpEvent::Breaker { .. } => "breaker",
            HttpEvent::Health { .. } => "health",
        }
    }

    /// The message the event is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match *self {
            HttpEvent::Request { request, .. } | HttpEvent::RequestEnded { request, .. } => {
                Some(request)
            }
            HttpEvent::Attempt { message, .. }
            | HttpEvent::Queued { message, .. }
            | HttpEvent::Started { message, .. }
            | HttpEvent::Responded { message, .. }
            | HttpEvent::Answered { message, .. }
            | HttpEvent::TimedOut { message, .. }
            | HttpEvent::Late { message, .. }
            | HttpEvent::StepFailed { message, .. } => Some(message),
            HttpEvent::Refused { .. }
            | HttpEvent::Retrying { .. }
            | HttpEvent::BudgetExhausted { .. }
            | HttpEvent::Breaker { .. }
            | HttpEvent::Health { .. } => None,
        }
    }
}
