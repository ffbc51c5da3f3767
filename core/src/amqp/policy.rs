//! RabbitMQ policies and operator policies: settings applied to exchanges and queues by name,
//! without redeclaring them (`docs/amqp.md`, "Policies").
//!
//! The rules are RabbitMQ 4's (`rabbit_policy`, `rabbit_policies`, `rabbit_amqqueue_process`,
//! `rabbit_quorum_queue`):
//!
//! - A policy matches an object when its `apply-to` takes the object's kind (and queue type),
//!   its `pattern` (a PCRE regular expression, unanchored) finds a match in the object's name,
//!   and none of its keys is one the queue type does not support (a classic queue has no
//!   `delivery-limit`: a policy that sets one is skipped for classic queues as a whole).
//! - Of the matching policies only one applies: the highest `priority`. RabbitMQ breaks a tie by
//!   the order its metadata store lists them in, which is a hash order and not specified; here
//!   the policy whose name sorts first (by bytes) wins, so a run is the same everywhere.
//!   Operator policies are chosen the same way, separately.
//! - The chosen policy and operator policy merge key by key ([`merge`]): for numbers the lower
//!   value, for `overflow` the operator's, for `delivery-limit` the lower unless one is negative
//!   (no limit), then the limited one.
//! - The merged value meets the object's own argument ([`effective_queue`],
//!   [`effective_exchange`]): the lower of the two for TTLs, `expires` and length limits; the
//!   argument for the dead-letter exchange and routing key, for a classic queue's `overflow`
//!   and for an exchange's `alternate-exchange`; the policy for a quorum queue's `overflow`.

use super::config::{ExchangeConfig, Overflow, QueueConfig, QueueType};
use super::pattern::Pattern;
use crate::scenario::{Diagnostic, Path};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;

/// Which objects a policy applies to (`apply-to`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyTo {
    /// Exchanges and queues.
    #[default]
    All,
    /// Exchanges only.
    Exchanges,
    /// Queues of every type.
    Queues,
    /// Classic queues only (RabbitMQ 3.12 and later).
    ClassicQueues,
    /// Quorum queues only (RabbitMQ 3.12 and later).
    QuorumQueues,
    /// Streams only (RabbitMQ 3.12 and later). Streams are not modelled, so such a policy
    /// matches nothing here.
    Streams,
}

impl ApplyTo {
    /// The value as RabbitMQ writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::All => "all",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::Queues => "queues",
            ApplyTo::ClassicQueues => "classic_queues",
            ApplyTo::QuorumQueues => "quorum_queues",
            ApplyTo::Streams => "streams",
        }
    }
}

/// A policy or an operator policy, under RabbitMQ's field names (as `rabbitmqctl set_policy`
/// and `definitions.json` have them; one virtual host, so no `vhost`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Its name, unique among the policies (operator policies have names of their own).
    pub name: String,
    /// A regular expression (PCRE, as Erlang's `re`), searched for in each name: unanchored,
    /// so `^orders$` is needed to match `orders` alone.
    pub pattern: String,
    /// What it applies to.
    #[serde(rename = "apply-to", default)]
    pub apply_to: ApplyTo,
    /// Of the policies that match an object, the highest priority applies.
    #[serde(default)]
    pub priority: i64,
    /// The settings it applies.
    pub definition: PolicyDefinition,
}

/// What a policy sets, under RabbitMQ's keys. An operator policy may set only `message-ttl`,
/// `expires`, `max-length`, `max-length-bytes`, `overflow` and `delivery-limit`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefinition {
    /// Queues: per-queue message TTL in milliseconds.
    #[serde(
        rename = "message-ttl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_ttl: Option<u64>,
    /// Queues: deleted after being unused this many milliseconds (1 or more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Queues: the most ready messages.
    #[serde(
        rename = "max-length",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_length: Option<u64>,
    /// Queues: the most ready body bytes.
    #[serde(
        rename = "max-length-bytes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_length_bytes: Option<u64>,
    /// Queues: what happens at a length limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<Overflow>,
    /// Queues: where dead-lettered messages go.
    #[serde(
        rename = "dead-letter-exchange",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_letter_exchange: Option<String>,
    /// Queues: the routing key dead-lettered messages get.
    #[serde(
        rename = "dead-letter-routing-key",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_letter_routing_key: Option<String>,
    /// Quorum queues: failed deliveries allowed before dead-lettering (negative: no limit).
    #[serde(
        rename = "delivery-limit",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delivery_limit: Option<i64>,
    /// Exchanges: where messages go that the exchange's own bindings route nowhere.
    #[serde(
        rename = "alternate-exchange",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub alternate_exchange: Option<String>,
}

impl PolicyDefinition {
    /// Every key the model has, in RabbitMQ's names.
    pub const KEYS: &'static [&'static str] = &[
        "message-ttl",
        "expires",
        "max-length",
        "max-length-bytes",
        "overflow",
        "dead-letter-exchange",
        "dead-letter-routing-key",
        "delivery-limit",
        "alternate-exchange",
    ];

    /// The keys it sets, in RabbitMQ's names (those of [`Self::KEYS`] its JSON form has).
    pub fn keys(&self) -> Vec<&'static str> {
        let json = serde_json::to_value(self).unwrap_or_default();
        Self::KEYS
            .iter()
            .copied()
            .filter(|k| json.get(k).is_some())
            .collect()
    }
}

/// The keys an operator policy may set (`rabbit_policies:register/0`, the modelled ones).
pub const OPERATOR_KEYS: &[&str] = &[
    "message-ttl",
    "expires",
    "max-length",
    "max-length-bytes",
    "overflow",
    "delivery-limit",
];

/// The longest pattern RabbitMQ accepts (4.3), in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// The checks of one policy (`operator`: an operator policy) at `path`.
pub(crate) fn check_policy(
    p: &Policy,
    operator: bool,
    path: Path<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    if p.name.is_empty() {
        diags.push(Diagnostic::new(path.at("name"), "must not be empty"));
    }
    if p.pattern.len() > MAX_PATTERN_BYTES {
        diags.push(Diagnostic::new(
            path.at("pattern"),
            format!("pattern must not exceed {MAX_PATTERN_BYTES} bytes"),
        ));
    } else if let Err(e) = compile(&p.pattern) {
        diags.push(Diagnostic::new(
            path.at("pattern"),
            format!("not a valid regular expression: {e}"),
        ));
    }
    let definition = path.at("definition");
    let d = &p.definition;
    let keys = d.keys();
    if keys.is_empty() {
        diags.push(Diagnostic::new(
            definition,
            "no policy provided: set at least one key",
        ));
    }
    if operator {
        for k in keys.iter().filter(|k| !OPERATOR_KEYS.contains(k)) {
            diags.push(Diagnostic::new(
                definition.at(k),
                format!(
                    "not an operator policy key (RabbitMQ: not a recognised policy setting); \
                     an operator policy may set {}",
                    OPERATOR_KEYS.join(", ")
                ),
            ));
        }
    }
    const MAX_TTL_MS: u64 = u32::MAX as u64;
    for (key, v) in [("message-ttl", d.message_ttl), ("expires", d.expires)] {
        if v.is_some_and(|v| v > MAX_TTL_MS) {
            diags.push(Diagnostic::new(
                definition.at(key),
                format!("out of range: at most {MAX_TTL_MS} ms"),
            ));
        }
    }
    if d.expires == Some(0) {
        diags.push(Diagnostic::new(
            definition.at("expires"),
            "0 is not a valid queue expiry: expected 1 ms or more",
        ));
    }
    if d.dead_letter_routing_key
        .as_ref()
        .is_some_and(|k| k.len() > 255)
    {
        diags.push(Diagnostic::new(
            definition.at("dead-letter-routing-key"),
            "a routing key is a shortstr, at most 255 bytes",
        ));
    }
}

/// Compiles a policy pattern (`super::pattern`: PCRE, as Erlang's `re`).
pub(crate) fn compile(pattern: &str) -> Result<Pattern, String> {
    Pattern::new(pattern)
}

/// What a policy is being matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An exchange.
    Exchange,
    /// A queue of this type.
    Queue(QueueType),
}

/// A policy with its pattern compiled.
#[derive(Clone, Debug)]
struct Compiled {
    policy: Policy,
    regex: Pattern,
}

/// The policies and operator policies in force.
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicySet {
    user: Vec<Compiled>,
    operator: Vec<Compiled>,
}

impl PolicySet {
    /// Compiles validated policies.
    pub(crate) fn new(user: &[Policy], operator: &[Policy]) -> PolicySet {
        let compiled = |ps: &[Policy]| ps.iter().map(Compiled::of).collect();
        PolicySet {
            user: compiled(user),
            operator: compiled(operator),
        }
    }

    /// True if there are none of either kind.
    pub(crate) fn is_empty(&self) -> bool {
        self.user.is_empty() && self.operator.is_empty()
    }

    /// The policies (`operator`: the operator policies), in the order they were set.
    pub(crate) fn list(&self, operator: bool) -> impl Iterator<Item = &Policy> {
        let l = if operator { &self.operator } else { &self.user };
        l.iter().map(|c| &c.policy)
    }

    /// Sets a policy (replacing the one of that name, in place), or removes one (`None`).
    pub(crate) fn set(&mut self, operator: bool, name: &str, policy: Option<&Policy>) {
        let l = if operator {
            &mut self.operator
        } else {
            &mut self.user
        };
        let at = l.iter().position(|c| c.policy.name == name);
        match (policy, at) {
            (Some(p), Some(i)) => l[i] = Compiled::of(p),
            (Some(p), None) => l.push(Compiled::of(p)),
            (None, Some(i)) => {
                l.remove(i);
            }
            (None, None) => {}
        }
    }

    /// The policy and the operator policy that apply to an object named `name`.
    pub(crate) fn applying(&self, name: &str, target: Target) -> Applied {
        Applied {
            policy: best(&self.user, name, target).cloned(),
            operator_policy: best(&self.operator, name, target).cloned(),
        }
    }
}

impl Compiled {
    fn of(p: &Policy) -> Compiled {
        Compiled {
            policy: p.clone(),
            regex: compile(&p.pattern).expect("a validated pattern"),
        }
    }
}

/// Whether `p` may apply to `target` at all (`apply-to`, and the queue type's unsupported
/// keys: `rabbit_queue_type:is_policy_applicable/2`).
pub fn applies_to(p: &Policy, target: Target) -> bool {
    let kind = match (p.apply_to, target) {
        (ApplyTo::All, _) => true,
        (ApplyTo::Exchanges, t) => t == Target::Exchange,
        (ApplyTo::Queues, t) => t != Target::Exchange,
        (ApplyTo::ClassicQueues, t) => t == Target::Queue(QueueType::Classic),
        (ApplyTo::QuorumQueues, t) => t == Target::Queue(QueueType::Quorum),
        (ApplyTo::Streams, _) => false,
    };
    let supported = match target {
        Target::Queue(QueueType::Classic) => p.definition.delivery_limit.is_none(),
        Target::Queue(QueueType::Quorum) | Target::Exchange => true,
    };
    kind && supported
}

/// The one policy of `list` that applies to `name`: the highest priority, then the name that
/// sorts first.
fn best<'a>(list: &'a [Compiled], name: &str, target: Target) -> Option<&'a Policy> {
    list.iter()
        .filter(|c| applies_to(&c.policy, target) && c.regex.is_match(name))
        .map(|c| &c.policy)
        .max_by_key(|p| (p.priority, Reverse(p.name.as_bytes())))
}

/// The policy and operator policy applying to one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// The policy, if one matches.
    pub policy: Option<Policy>,
    /// The operator policy, if one matches.
    pub operator_policy: Option<Policy>,
}

impl Applied {
    /// True if neither applies.
    pub fn is_none(&self) -> bool {
        self.policy.is_none() && self.operator_policy.is_none()
    }
}

/// Where an effective setting comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The object's own declaration argument.
    Argument,
    /// The policy.
    Policy,
    /// The operator policy.
    OperatorPolicy,
}

impl Source {
    /// In words.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Argument => "argument",
            Source::Policy => "policy",
            Source::OperatorPolicy => "operator policy",
        }
    }
}

/// One setting as it applies, and where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    /// RabbitMQ's key for it (`message-ttl`; the argument is `x-message-ttl`).
    pub key: &'static str,
    /// Its value, as JSON writes it.
    pub value: String,
    /// Where it comes from.
    pub source: Source,
    /// Why it is not what one of the sources says, when that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// One key of the merged policy: its value and source.
type Merged<T> = Option<(T, Source)>;

/// `rabbit_policy:get0/3` with `merge_policy_value/3`: the policy's and the operator policy's
/// value of one key.
fn merge<T: Clone + PartialEq>(
    applied: &Applied,
    get: impl Fn(&PolicyDefinition) -> Option<T>,
    both: impl Fn(T, T) -> T,
) -> Merged<T> {
    let user = applied.policy.as_ref().and_then(|p| get(&p.definition));
    let op = applied
        .operator_policy
        .as_ref()
        .and_then(|p| get(&p.definition));
    match (user, op) {
        (None, None) => None,
        (Some(v), None) => Some((v, Source::Policy)),
        (None, Some(v)) => Some((v, Source::OperatorPolicy)),
        (Some(u), Some(o)) => {
            let v = both(u.clone(), o);
            let source = if v == u {
                Source::Policy
            } else {
                Source::OperatorPolicy
            };
            Some((v, source))
        }
    }
}

/// How a policy's value meets the argument's (`args_policy_lookup/3`'s `Resolve`), as "does the
/// argument win over the policy".
mod wins {
    /// `res_min`, `min/2`: the lower of the two.
    pub(super) fn lower<T: PartialOrd>(arg: &T, pol: &T) -> bool {
        arg <= pol
    }
    /// `res_arg`, `queue_arg_has_precedence`: the argument.
    pub(super) fn argument<T>(_: &T, _: &T) -> bool {
        true
    }
    /// `policy_has_precedence`: the policy.
    pub(super) fn policy<T>(_: &T, _: &T) -> bool {
        false
    }
    /// `resolve_delivery_limit/2`: the lower, unless one is negative (no limit): then the
    /// higher, the limited one.
    pub(super) fn delivery_limit(arg: &i64, pol: &i64) -> bool {
        if *arg < 0 || *pol < 0 {
            arg >= pol
        } else {
            arg <= pol
        }
    }
}

fn resolve<T: Clone + Serialize>(
    key: &'static str,
    arg: Option<T>,
    pol: Merged<T>,
    arg_wins: fn(&T, &T) -> bool,
    out: &mut Vec<Setting>,
) -> Option<T> {
    let (v, source) = match (arg, pol) {
        (None, None) => return None,
        (Some(a), None) => (a, Source::Argument),
        (None, Some((p, s))) => (p, s),
        (Some(a), Some((p, s))) => {
            if arg_wins(&a, &p) {
                (a, Source::Argument)
            } else {
                (p, s)
            }
        }
    };
    out.push(Setting {
        key,
        value: serde_json::to_string(&v).unwrap_or_default(),
        source,
        note: None,
    });
    Some(v)
}

/// A queue's settings as they apply: its declared `x-` arguments met with the policy and the
/// operator policy that apply to it (RabbitMQ 4: `rabbit_amqqueue_process:process_args_policy`
/// for classic queues, `rabbit_quorum_queue:gather_policy_config` for quorum queues), and where
/// each setting comes from.
pub fn effective_queue(declared: &QueueConfig, applied: &Applied) -> (QueueConfig, Vec<Setting>) {
    let mut out = Vec::new();
    let mut c = declared.clone();
    let a = &declared.arguments;
    let quorum = a.queue_type == QueueType::Quorum;
    // The limits and TTLs: the lower of policy and operator policy, then of that and the
    // argument.
    let mut lower = |key, arg, get: fn(&PolicyDefinition) -> Option<u64>| {
        resolve(
            key,
            arg,
            merge(applied, get, u64::min),
            wins::lower,
            &mut out,
        )
    };
    c.arguments.message_ttl = lower("message-ttl", a.message_ttl, |d| d.message_ttl);
    c.arguments.expires = lower("expires", a.expires, |d| d.expires);
    c.arguments.max_length = lower("max-length", a.max_length, |d| d.max_length);
    c.arguments.max_length_bytes = lower("max-length-bytes", a.max_length_bytes, |d| {
        d.max_length_bytes
    });
    let overflow = resolve(
        "overflow",
        a.overflow,
        merge(applied, |d| d.overflow, |_, op| op),
        if quorum { wins::policy } else { wins::argument },
        &mut out,
    );
    c.arguments.overflow = match overflow {
        // rabbit_quorum_queue:overflow/3: logged as invalid, and drop-head instead.
        Some(Overflow::RejectPublishDlx) if quorum => {
            if let Some(s) = out.last_mut() {
                s.value = "\"drop-head\"".into();
                s.note = Some(
                    "quorum queues do not support reject-publish-dlx: RabbitMQ uses drop-head",
                );
            }
            Some(Overflow::DropHead)
        }
        o => o,
    };
    c.arguments.dead_letter_exchange = resolve(
        "dead-letter-exchange",
        a.dead_letter_exchange.clone(),
        merge(applied, |d| d.dead_letter_exchange.clone(), |u, _| u),
        wins::argument,
        &mut out,
    );
    c.arguments.dead_letter_routing_key = resolve(
        "dead-letter-routing-key",
        a.dead_letter_routing_key.clone(),
        merge(applied, |d| d.dead_letter_routing_key.clone(), |u, _| u),
        wins::argument,
        &mut out,
    );
    if quorum {
        let both = |u: i64, o: i64| if u < 0 || o < 0 { u.max(o) } else { u.min(o) };
        c.arguments.delivery_limit = resolve(
            "delivery-limit",
            a.delivery_limit,
            merge(applied, |d| d.delivery_limit, both),
            wins::delivery_limit,
            &mut out,
        );
    }
    (c, out)
}

/// An exchange's settings as they apply: its `alternate-exchange` argument wins over a policy's
/// (`rabbit_policy:get_arg/3`). Operator policies set nothing on exchanges.
pub fn effective_exchange(
    declared: &ExchangeConfig,
    applied: &Applied,
) -> (Option<String>, Vec<Setting>) {
    let mut out = Vec::new();
    let ae = resolve(
        "alternate-exchange",
        declared.arguments.alternate_exchange.clone(),
        merge(applied, |d| d.alternate_exchange.clone(), |u, _| u),
        wins::argument,
        &mut out,
    );
    (ae, out)
}
