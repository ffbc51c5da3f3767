//! Topic exchange matching, exactly as RabbitMQ 4.3.5 does it (`docs/amqp.md`, "Exchanges").
//!
//! Keys split on every `.`, keeping empty words; the empty key has zero words. `*` matches
//! exactly one (possibly empty) word, `#` zero or more, and both are special only as whole
//! words. Matching is anchored at both ends.

/// The most `#` words a binding key may have (v4.3.5, `?MAX_HASH_WILDCARDS`).
pub const MAX_HASH_WILDCARDS: usize = 2;

/// Splits a key into words: `""` is no words; otherwise every `.` separates, so `"a..b"` is
/// `["a", "", "b"]` and `"."` is `["", ""]`.
pub fn words(key: &str) -> Vec<&str> {
    if key.is_empty() {
        Vec::new()
    } else {
        // By bytes (a `.` is one byte in UTF-8, so every cut is at a character boundary): for
        // keys of a few short words, `split('.')`'s searcher cost several times the split
        // itself (3% of the AMQP benchmark's instructions).
        let mut out = Vec::with_capacity(4);
        let mut start = 0;
        for (i, b) in key.bytes().enumerate() {
            if b == b'.' {
                out.push(&key[start..i]);
                start = i + 1;
            }
        }
        out.push(&key[start..]);
        out
    }
}

/// A binding key, split once at bind time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPattern {
    words: Vec<Word>,
}

/// One word of a binding key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    /// `*`: exactly one word.
    Star,
    /// `#`: zero or more words.
    Hash,
    /// Any other word, matched exactly.
    Lit(String),
}

impl TopicPattern {
    /// Compiles a binding key. Refuses more than [`MAX_HASH_WILDCARDS`] `#` words, as a
    /// v4.3.5 broker does at bind time (`binding_invalid`).
    pub fn new(binding_key: &str) -> Result<TopicPattern, String> {
        let words: Vec<Word> = words(binding_key)
            .into_iter()
            .map(|w| match w {
                "*" => Word::Star,
                "#" => Word::Hash,
                other => Word::Lit(other.to_owned()),
            })
            .collect();
        let hashes = words.iter().filter(|w| **w == Word::Hash).count();
        if hashes > MAX_HASH_WILDCARDS {
            return Err(format!(
                "binding_invalid: {hashes} `#` words; RabbitMQ 4.3.5 allows at most {MAX_HASH_WILDCARDS}"
            ));
        }
        Ok(TopicPattern { words })
    }

    /// The binding key's words, in order.
    pub(crate) fn pattern_words(&self) -> &[Word] {
        &self.words
    }

    /// True if the routing key, already split with [`words`], matches.
    // A matcher over words: its fall-through arm means "no word matched here", not a kind.
    #[allow(clippy::wildcard_enum_match_arm)]
    pub fn matches_words(&self, key: &[&str]) -> bool {
        // Iterative matching with backtracking to the last `#` (at most two of them, so this
        // stays linear in practice); equivalent to the recursive reference definition.
        let b = &self.words;
        let (mut i, mut j) = (0usize, 0usize);
        // (pattern index after the `#`, key index the `#` currently stops at)
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if i < b.len() {
                match &b[i] {
                    Word::Hash => {
                        backtrack = Some((i + 1, j));
                        i += 1;
                        continue;
                    }
                    Word::Star if j < key.len() => {
                        i += 1;
                        j += 1;
                        continue;
                    }
                    Word::Lit(w) if j < key.len() && w == key[j] => {
                        i += 1;
                        j += 1;
                        continue;
                    }
                    _ => {}
                }
            } else if j == key.len() {
                return true;
            }
            // Mismatch: let the last `#` swallow one more word, if there is one to swallow.
            match backtrack {
                Some((bi, bj)) if bj < key.len() => {
                    backtrack = Some((bi, bj + 1));
                    i = bi;
                    j = bj + 1;
                }
                _ => return false,
            }
        }
    }

    /// True if `routing_key` matches.
    pub fn matches(&self, routing_key: &str) -> bool {
        self.matches_words(&words(routing_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_keeps_empty_words() {
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(words("a..b"), ["a", "", "b"]);
        assert_eq!(words("."), ["", ""]);
        assert_eq!(words(".a"), ["", "a"]);
        assert_eq!(words("a."), ["a", ""]);
    }

    #[test]
    fn hash_and_star_are_special_only_as_whole_words() {
        let p = TopicPattern::new("a#").unwrap();
        assert!(p.matches("a#"));
        assert!(!p.matches("a"));
        assert!(!p.matches("ab"));
        assert!(!TopicPattern::new("a*").unwrap().matches("ab"));
    }

    #[test]
    fn backtracking_past_a_hash_finds_a_later_match() {
        let p = TopicPattern::new("#.b.#.c").unwrap();
        assert!(p.matches("b.b.x.c"));
        assert!(p.matches("x.b.c"));
        assert!(!p.matches("x.c.b"));
    }
}
