//! Headers exchange matching, as RabbitMQ 4.3.5 does it (`docs/amqp.md`, "Exchanges").

use crate::message::{HeaderValue, Headers};

/// The binding's `x-match` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XMatch {
    /// Every non-`x-` argument matches (the default). No arguments: matches everything.
    All,
    /// At least one non-`x-` argument matches. No arguments: matches nothing.
    Any,
    /// Like `all`, but `x-` arguments other than `x-match` take part.
    AllWithX,
    /// Like `any`, but `x-` arguments other than `x-match` take part.
    AnyWithX,
}

impl XMatch {
    /// Reads `x-match` from binding arguments; an unknown value or type is `binding_invalid`.
    pub fn of(arguments: &Headers) -> Result<XMatch, String> {
        match arguments.get("x-match") {
            None => Ok(XMatch::All),
            Some(HeaderValue::Str(s)) => match s.as_str() {
                "all" => Ok(XMatch::All),
                "any" => Ok(XMatch::Any),
                "all-with-x" => Ok(XMatch::AllWithX),
                "any-with-x" => Ok(XMatch::AnyWithX),
                other => Err(format!(
                    "binding_invalid: x-match {other:?}; expected all, any, all-with-x or any-with-x"
                )),
            },
            Some(_) => Err("binding_invalid: x-match must be a string".into()),
        }
    }
}

/// True if a message with `headers` matches a headers-exchange binding with `arguments`.
///
/// A `null` (void) argument matches when the header is present, whatever its value; any other
/// argument matches when the header has exactly that value and type (`1` is not `1.0`).
// A matcher over header values: any value other than `void` compares by equality.
#[allow(clippy::wildcard_enum_match_arm)]
pub fn matches(mode: XMatch, arguments: &Headers, headers: &Headers) -> bool {
    let with_x = matches!(mode, XMatch::AllWithX | XMatch::AnyWithX);
    let mut considered = arguments.iter().filter(|(k, _)| {
        if with_x {
            k.as_str() != "x-match"
        } else {
            !k.starts_with("x-")
        }
    });
    // `x-death` is an annotation in RabbitMQ, made a header only for AMQP 0-9-1 consumers:
    // routing does not see it (the `x-first-death-*` and `x-last-death-*` values it does).
    let get = |k: &str| (k != "x-death").then(|| headers.get(k)).flatten();
    let one = |(k, v): (&String, &HeaderValue)| match v {
        HeaderValue::Void => get(k).is_some(),
        v => get(k) == Some(v),
    };
    match mode {
        XMatch::All | XMatch::AllWithX => considered.all(one),
        XMatch::Any | XMatch::AnyWithX => considered.any(one),
    }
}
