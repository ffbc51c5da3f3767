//! The policy pattern matcher (`amqp::pattern`) against `fancy-regex`, a PCRE-style engine, on
//! generated patterns and names: literals, `.`, classes, `\d \w \s`, groups, alternation,
//! greedy, lazy and counted quantifiers, anchors, lookahead and lookbehind, `(?i)`.
//!
//! Names are ASCII without newlines, where the two must agree: `fancy-regex` is Unicode-aware
//! and its `$` does not match before a final newline, while RabbitMQ's `re` (and the matcher)
//! match bytes and follow PCRE there. Those cases have fixed tests in `pattern.rs`. Proptest
//! prints the pattern and the name of any disagreement, shrunk. A match that gives up (too many
//! steps, as RabbitMQ 4.3 gives up) is not compared.

use proptest::prelude::*;
use switchboard_core::amqp::pattern::Pattern;

/// One item: a literal, a dot, a class or a Perl class.
fn atom() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "c",
        "1",
        "\\.",
        "-",
        "_",
        ".",
        "\\d",
        "\\w",
        "\\s",
        "\\D",
        "\\W",
        "[ab]",
        "[^a]",
        "[a-c1]",
        "[.-]",
        "[[:alpha:]]",
        "\\b",
    ])
    .prop_map(str::to_owned)
}

fn quantifier() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,2}", "{0,}", "{1,2}?",
    ])
}

/// A pattern of sequences, groups, alternations and lookarounds, a few levels deep.
fn pattern() -> impl Strategy<Value = String> {
    let leaf =
        (atom(), quantifier()).prop_map(|(a, q)| if a == "\\b" { a } else { format!("{a}{q}") });
    let tree = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            (prop::collection::vec(inner.clone(), 1..3), quantifier())
                .prop_map(|(v, q)| format!("(?:{}){q}", v.join("|"))),
            (inner.clone(), quantifier()).prop_map(|(a, q)| format!("({a}){q}")),
            inner.clone().prop_map(|a| format!("(?={a})")),
            inner.clone().prop_map(|a| format!("(?!{a})")),
            // fancy-regex takes only fixed-length lookbehind: one byte of a class.
            (atom(), any::<bool>()).prop_filter_map("one byte", |(a, neg)| {
                (a != "\\b").then(|| format!("(?<{}{a})", if neg { '!' } else { '=' }))
            }),
        ]
    });
    (any::<bool>(), any::<bool>(), any::<bool>(), tree).prop_map(|(caseless, start, end, t)| {
        format!(
            "{}{}{t}{}",
            if caseless { "(?i)" } else { "" },
            if start { "^" } else { "" },
            if end { "$" } else { "" }
        )
    })
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!['a', 'b', 'c', 'A', 'B', '1', '2', '.', '-', '_', ' ']),
        0..9,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8192, max_global_rejects: 8192, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_a_pcre_style_engine(p in pattern(), names in prop::collection::vec(name(), 1..6)) {
        let ours = Pattern::new(&p).map_err(|e| TestCaseError::fail(format!("{p}: {e}")))?;
        // fancy-regex refuses a few things PCRE takes (a quantified lookaround): not compared.
        let theirs = fancy_regex::Regex::new(&p);
        prop_assume!(theirs.is_ok());
        let theirs = theirs.expect("assumed");
        for n in &names {
            let want = theirs.is_match(n).unwrap_or(false);
            // A match that runs out of steps gives up (RabbitMQ 4.3's match limit); the two
            // engines count steps differently, so those are not compared.
            if let Some(got) = ours.try_match(n) {
                prop_assert_eq!(got, want, "pattern {:?} on name {:?}", p, n);
            }
        }
    }
}
