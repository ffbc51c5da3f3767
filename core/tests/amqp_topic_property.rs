//! Topic-exchange matching against the reference definition in `docs/amqp.md` ("Exchanges").
//!
//! `TopicPattern` matches iteratively, with backtracking to the last `#`. Here it is compared
//! with the plain recursive `m(i, j)` of §1.3 over keys built from a small alphabet, so empty
//! words, leading and trailing dots, the empty key and runs of wildcards all come up, and with
//! the upstream test tables ([CT-RMQ-TOPIC-1..3] and the "Further checks").

use proptest::prelude::*;
use switchboard_core::amqp::TopicPattern;

/// §1.3 word splitting: `""` is zero words, anything else splits on every `.`, keeping empty
/// words.
fn split(key: &str) -> Vec<&str> {
    if key.is_empty() {
        Vec::new()
    } else {
        key.split('.').collect()
    }
}

/// The reference definition, word for word:
///
/// ```text
/// m(i,j): if i==|B|: return j==|R|
///         if B[i]=="#": return m(i+1,j) or (j<|R| and m(i,j+1))
///         if j==|R|: return false
///         return (B[i]=="*" or B[i]==R[j]) and m(i+1,j+1)
/// ```
fn m(b: &[&str], r: &[&str], i: usize, j: usize) -> bool {
    if i == b.len() {
        return j == r.len();
    }
    if b[i] == "#" {
        return m(b, r, i + 1, j) || (j < r.len() && m(b, r, i, j + 1));
    }
    if j == r.len() {
        return false;
    }
    (b[i] == "*" || b[i] == r[j]) && m(b, r, i + 1, j + 1)
}

fn reference(binding: &str, routing_key: &str) -> bool {
    m(&split(binding), &split(routing_key), 0, 0)
}

fn hashes(key: &str) -> usize {
    split(key).iter().filter(|w| **w == "#").count()
}

/// `words` drawn from `alphabet`, 0 to 5 of them, joined with dots.
fn key_from(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..6).prop_map(|ws| ws.join("."))
}

const BINDING_WORDS: &[&str] = &["a", "b", "", "*", "#"];
const KEY_WORDS: &[&str] = &["a", "b", "", "x"];
/// Wider alphabets: `#` and `*` in routing keys are plain words, and `a#`, `*a` in bindings are
/// literal words (special only as whole words).
const WIDE_BINDING_WORDS: &[&str] = &["a", "b", "", "*", "#", "a#", "*a"];
const WIDE_KEY_WORDS: &[&str] = &["a", "b", "", "x", "*", "#", "a#", "*a"];

/// A binding key with at most 2 `#` words (the v4.3.5 limit).
fn binding() -> impl Strategy<Value = String> {
    key_from(BINDING_WORDS).prop_filter("at most 2 `#` words", |b| hashes(b) <= 2)
}

fn check(binding: &str, routing_key: &str) -> Result<(), TestCaseError> {
    let p = TopicPattern::new(binding)
        .map_err(|e| TestCaseError::fail(format!("binding {binding:?} refused: {e}")))?;
    let want = reference(binding, routing_key);
    prop_assert_eq!(
        p.matches(routing_key),
        want,
        "binding {:?} vs routing key {:?}",
        binding,
        routing_key
    );
    prop_assert_eq!(
        p.matches_words(&split(routing_key)),
        want,
        "matches_words: binding {:?} vs routing key {:?}",
        binding,
        routing_key
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn matches_the_reference_definition(b in binding(), rk in key_from(KEY_WORDS)) {
        check(&b, &rk)?;
    }

    #[test]
    fn matches_the_reference_definition_with_wildcard_lookalikes(
        b in key_from(WIDE_BINDING_WORDS).prop_filter("at most 2 `#` words", |b| hashes(b) <= 2),
        rk in key_from(WIDE_KEY_WORDS),
    ) {
        check(&b, &rk)?;
    }

    /// Routing keys that the binding is built to match: the binding's own words with each `*`
    /// replaced by a word and each `#` by 0 to 2 words. Random pairs rarely match long
    /// bindings; these always do.
    #[test]
    fn a_key_built_from_the_binding_matches(
        b in binding(),
        fill in prop::collection::vec(
            prop::collection::vec(prop::sample::select(KEY_WORDS), 0..3), 6),
    ) {
        let mut words: Vec<String> = Vec::new();
        for (k, w) in split(&b).into_iter().enumerate() {
            match w {
                "*" => words.push(fill[k].first().copied().unwrap_or("").to_owned()),
                "#" => words.extend(fill[k].iter().map(|s| s.to_string())),
                lit => words.push(lit.to_owned()),
            }
        }
        let rk = words.join(".");
        // Joining and splitting only disagree for a single empty word (`""` is zero words),
        // which the reference then decides; otherwise the key must match.
        if !(words.len() == 1 && words[0].is_empty()) {
            prop_assert!(reference(&b, &rk), "construction: {:?} should match {:?}", b, rk);
        }
        check(&b, &rk)?;
    }

    #[test]
    fn more_than_two_hash_words_are_refused(
        b in key_from(BINDING_WORDS),
        extra in prop::collection::vec(prop::sample::select(BINDING_WORDS), 0..3),
    ) {
        // Force at least 3 `#` words by appending them around the random part.
        let refused = format!("#.{b}.#.{}#", extra.iter().map(|w| format!("{w}.")).collect::<String>());
        prop_assert!(hashes(&refused) >= 3);
        prop_assert!(TopicPattern::new(&refused).is_err(), "{:?} should be refused", refused);
        // And the random part alone is accepted exactly when it has at most 2.
        prop_assert_eq!(TopicPattern::new(&b).is_ok(), hashes(&b) <= 2, "binding {:?}", b);
    }
}

fn matches(binding: &str, routing_key: &str) -> bool {
    let got = TopicPattern::new(binding)
        .unwrap_or_else(|e| panic!("{binding:?} refused: {e}"))
        .matches(routing_key);
    assert_eq!(
        got,
        reference(binding, routing_key),
        "the reference disagrees on {binding:?} vs {routing_key:?}"
    );
    got
}

// The §1.3 tables (CT-RMQ-TOPIC-1, -2, -3 and the further checks) run end to end, through a
// topic exchange, in `amqp_conformance.rs`; the matcher's own unit tests are in `topic.rs`.

/// `#` and `*` are special only as whole words; in a routing key they are plain words.
#[test]
fn wildcards_only_as_whole_words() {
    assert!(matches("a#", "a#"));
    assert!(!matches("a#", "a"));
    assert!(!matches("a#", "a.b"));
    assert!(!matches("*a", "ba"));
    assert!(matches("a.b", "a.b"));
    assert!(!matches("a.b", "a.#"));
    assert!(matches("*", "#"));
    assert!(!matches("", "#"));
}
