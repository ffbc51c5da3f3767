//! Each exchange's bindings indexed by what they match, so that routing a message visits the
//! bindings that match it and not the others (`route` in `broker.rs`).
//!
//! - A direct exchange's bindings by binding key ([`DirectBindings`]).
//! - A topic exchange's bindings in a trie over their patterns' words ([`TopicTrie`]), as
//!   RabbitMQ keeps them (`rabbit_db_topic`): it finds exactly the bindings whose
//!   [`TopicPattern`] matches.
//! - Fanout and headers exchanges are not indexed: routing tries each of their bindings.
//!
//! An exchange with at most [`SCAN_UP_TO`] bindings is scanned too: trying a few bindings
//! costs less than the lookups.
//!
//! Routing takes an exchange's matching bindings in the order of its `out`, which is edge id
//! order: `Topology::add_edge` gives each new edge a larger id than any before it and appends
//! it, and a removal keeps the others in order. So every lookup returns edge ids sorted, each
//! once, and [`RouteIndex::check`] holds the topology to that order.

use super::model::Matcher;
use super::topic::{TopicPattern, Word};
use crate::id::{EdgeId, NodeId};
use crate::topology::Topology;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by a word or a routing key. Only looked up in routing; its fixed hasher keeps
/// even its iteration order the same from run to run.
type WordMap<V> = HashMap<String, V, BuildHasherDefault<WordHasher>>;

/// FNV-1a: a few cycles a byte on the short words of routing keys, where std's SipHash costs
/// several times more; and the same in every run.
#[derive(Clone, Copy)]
struct WordHasher(u64);

impl Default for WordHasher {
    fn default() -> WordHasher {
        WordHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Up to this many bindings, routing tries each binding of a direct or topic exchange rather
/// than look them up. Measured: on the AMQP benchmark's topic exchange (3 bindings, all
/// matching) the trie made a publish about 15% slower; with 10 bindings the two cost the same.
pub(crate) const SCAN_UP_TO: usize = 8;

/// The binding index of every exchange, by node id.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteIndex {
    exchanges: Vec<ExchangeIndex>,
}

/// How routing finds the bindings of an exchange that match a message.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lookup<'a> {
    /// Try each binding of the exchange's `out`.
    Scan,
    /// Look the routing keys up among direct bindings.
    Direct(&'a DirectBindings),
    /// Look the routing keys up in a topic trie.
    Topic(&'a TopicTrie),
}

/// One exchange's bindings, indexed by what they match.
#[derive(Clone, Debug, Default)]
enum ExchangeIndex {
    /// No binding yet (or not an exchange).
    #[default]
    Unbound,
    /// Fanout and headers bindings: routing tries each one.
    Scan,
    /// Direct bindings by binding key.
    Direct(DirectBindings),
    /// Topic bindings in a trie.
    Topic(TopicTrie),
}

impl RouteIndex {
    /// How routing finds exchange `exchange`'s matching bindings.
    pub(crate) fn lookup(&self, exchange: NodeId) -> Lookup<'_> {
        match self.exchanges.get(exchange.index()) {
            Some(ExchangeIndex::Direct(d)) if d.len > SCAN_UP_TO => Lookup::Direct(d),
            Some(ExchangeIndex::Topic(t)) if t.len > SCAN_UP_TO => Lookup::Topic(t),
            Some(
                ExchangeIndex::Unbound
                | ExchangeIndex::Scan
                | ExchangeIndex::Direct(_)
                | ExchangeIndex::Topic(_),
            )
            | None => Lookup::Scan,
        }
    }

    /// Binding `edge` of `exchange`, with key `key` and compiled `matcher`, was added.
    pub(crate) fn bind(&mut self, exchange: NodeId, edge: EdgeId, key: &str, matcher: &Matcher) {
        let i = exchange.index();
        if self.exchanges.len() <= i {
            self.exchanges.resize_with(i + 1, ExchangeIndex::default);
        }
        let index = &mut self.exchanges[i];
        if let ExchangeIndex::Unbound = index {
            *index = match matcher {
                Matcher::Direct => ExchangeIndex::Direct(DirectBindings::default()),
                Matcher::Topic(_) => ExchangeIndex::Topic(TopicTrie::default()),
                Matcher::Fanout | Matcher::Headers(_) => ExchangeIndex::Scan,
            };
        }
        match (&mut *index, matcher) {
            (ExchangeIndex::Direct(d), Matcher::Direct) => d.bind(key, edge),
            (ExchangeIndex::Topic(t), Matcher::Topic(p)) => t.bind(p, edge),
            (
                ExchangeIndex::Scan,
                Matcher::Direct | Matcher::Fanout | Matcher::Topic(_) | Matcher::Headers(_),
            ) => {}
            // An exchange's type never changes, so neither do its bindings' matchers; were they
            // ever mixed, trying each binding is right whatever they are.
            (
                ExchangeIndex::Unbound | ExchangeIndex::Direct(_) | ExchangeIndex::Topic(_),
                Matcher::Direct | Matcher::Fanout | Matcher::Topic(_) | Matcher::Headers(_),
            ) => *index = ExchangeIndex::Scan,
        }
    }

    /// Binding `edge` of `exchange`, bound with `key` and `matcher`, is being removed.
    pub(crate) fn unbind(&mut self, exchange: NodeId, edge: EdgeId, key: &str, matcher: &Matcher) {
        match (self.exchanges.get_mut(exchange.index()), matcher) {
            (Some(ExchangeIndex::Direct(d)), Matcher::Direct) => d.unbind(key, edge),
            (Some(ExchangeIndex::Topic(t)), Matcher::Topic(p)) => t.unbind(p, edge),
            (
                None
                | Some(
                    ExchangeIndex::Unbound
                    | ExchangeIndex::Scan
                    | ExchangeIndex::Direct(_)
                    | ExchangeIndex::Topic(_),
                ),
                Matcher::Direct | Matcher::Fanout | Matcher::Topic(_) | Matcher::Headers(_),
            ) => {}
        }
    }

    /// Checks the index against the topology: each indexed exchange holds exactly its live
    /// bindings, each under its own key, and every `out` is in edge id order.
    pub(crate) fn check(
        &self,
        topo: &Topology,
        matchers: &[Option<Matcher>],
    ) -> Result<(), String> {
        for (i, node) in topo.nodes.iter().enumerate() {
            if node.out.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!(
                    "the edges out of {:?} are not in edge id order: {:?}",
                    node.name, node.out
                ));
            }
            let mut indexed = Vec::new();
            match self.exchanges.get(i).unwrap_or(&ExchangeIndex::Unbound) {
                ExchangeIndex::Scan => continue,
                ExchangeIndex::Unbound => {}
                ExchangeIndex::Direct(d) => {
                    d.check(topo, &mut indexed)?;
                    if d.len != indexed.len() {
                        return Err(format!("{:?} counts {} direct bindings", node.name, d.len));
                    }
                }
                ExchangeIndex::Topic(t) => {
                    t.check(matchers, &mut indexed)?;
                    if t.len != indexed.len() {
                        return Err(format!("{:?} counts {} topic bindings", node.name, t.len));
                    }
                }
            }
            indexed.sort_unstable();
            let bound: Vec<EdgeId> = node
                .out
                .iter()
                .copied()
                .filter(|e| matchers.get(e.index()).is_some_and(Option::is_some))
                .collect();
            if indexed != bound {
                return Err(format!(
                    "the route index of {:?} holds bindings {indexed:?}, the topology {bound:?}",
                    node.name
                ));
            }
        }
        Ok(())
    }
}

/// A direct exchange's bindings by binding key, each key's in edge id order.
#[derive(Clone, Debug, Default)]
pub(crate) struct DirectBindings {
    by_key: WordMap<Vec<EdgeId>>,
    /// How many bindings.
    len: usize,
}

impl DirectBindings {
    /// Adds binding `edge` with binding key `key`.
    pub(crate) fn bind(&mut self, key: &str, edge: EdgeId) {
        if insert_sorted(self.by_key.entry(key.to_owned()).or_default(), edge) {
            self.len += 1;
        }
    }

    /// Removes binding `edge` with binding key `key`.
    pub(crate) fn unbind(&mut self, key: &str, edge: EdgeId) {
        if let Some(edges) = self.by_key.get_mut(key) {
            if remove_sorted(edges, edge) {
                self.len -= 1;
            }
            if edges.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// Appends the bindings whose key is one of `keys` to `out` (empty), in edge id order,
    /// each once.
    pub(crate) fn matching(&self, keys: &[&str], out: &mut Vec<EdgeId>) {
        for key in keys {
            if let Some(edges) = self.by_key.get(*key) {
                out.extend_from_slice(edges);
            }
        }
        if keys.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// Appends every binding to `out`, checking that each is filed under its routing key.
    fn check(&self, topo: &Topology, out: &mut Vec<EdgeId>) -> Result<(), String> {
        for (key, edges) in &self.by_key {
            for &e in edges {
                if topo.edge(e).routing_key != *key {
                    return Err(format!("direct binding {e:?} is indexed under {key:?}"));
                }
            }
            out.extend_from_slice(edges);
        }
        Ok(())
    }
}

/// A topic exchange's bindings in a trie over their patterns' words: `*` and `#` are children
/// of their own, every other word a child by its text.
#[derive(Clone, Debug, Default)]
pub(crate) struct TopicTrie {
    root: TrieNode,
    /// How many bindings.
    len: usize,
}

/// A node of a [`TopicTrie`]: the path from the root to it spells a pattern's first words.
#[derive(Clone, Debug, Default)]
struct TrieNode {
    /// Bindings whose pattern ends here, in edge id order.
    bindings: Vec<EdgeId>,
    /// The children for literal words.
    literal: WordMap<TrieNode>,
    /// The child for `*`.
    star: Option<Box<TrieNode>>,
    /// The child for `#`.
    hash: Option<Box<TrieNode>>,
}

impl TopicTrie {
    /// Adds binding `edge` with pattern `pattern`.
    pub(crate) fn bind(&mut self, pattern: &TopicPattern, edge: EdgeId) {
        let mut node = &mut self.root;
        for word in pattern.pattern_words() {
            node = match word {
                Word::Star => node.star.get_or_insert_with(Box::default),
                Word::Hash => node.hash.get_or_insert_with(Box::default),
                Word::Lit(w) => node.literal.entry(w.clone()).or_default(),
            };
        }
        if insert_sorted(&mut node.bindings, edge) {
            self.len += 1;
        }
    }

    /// Removes binding `edge` with pattern `pattern`, and the nodes left with nothing under
    /// them.
    pub(crate) fn unbind(&mut self, pattern: &TopicPattern, edge: EdgeId) {
        if self.root.unbind(pattern.pattern_words(), edge) {
            self.len -= 1;
        }
    }

    /// Appends the bindings whose pattern matches one of the routing keys (each split with
    /// [`super::topic::words`]) to `out` (empty), in edge id order, each once.
    pub(crate) fn matching(&self, keys: &[Vec<&str>], out: &mut Vec<EdgeId>) {
        for key in keys {
            self.root.matching(key, out);
        }
        // `#` can reach a binding along several paths (`#.#`, `#.*` over a long key).
        out.sort_unstable();
        out.dedup();
    }

    /// Appends every binding to `out`, checking that each sits at the end of its own pattern
    /// and that no node is left empty.
    fn check(&self, matchers: &[Option<Matcher>], out: &mut Vec<EdgeId>) -> Result<(), String> {
        self.root.check(&mut Vec::new(), matchers, out)
    }
}

impl TrieNode {
    /// The bindings under this node whose pattern's remaining words match `key`'s remaining
    /// words: `TopicPattern::matches_words`, by the trie.
    fn matching(&self, key: &[&str], out: &mut Vec<EdgeId>) {
        if let Some(hash) = &self.hash {
            // `#` swallows zero or more words.
            for skip in 0..=key.len() {
                hash.matching(&key[skip..], out);
            }
        }
        match key.split_first() {
            None => out.extend_from_slice(&self.bindings),
            Some((word, rest)) => {
                if let Some(child) = self.literal.get(*word) {
                    child.matching(rest, out);
                }
                if let Some(star) = &self.star {
                    star.matching(rest, out);
                }
            }
        }
    }

    /// Removes `edge` from the node `words` leads to, pruning children left empty. Returns
    /// true if it was there.
    fn unbind(&mut self, words: &[Word], edge: EdgeId) -> bool {
        let Some((word, rest)) = words.split_first() else {
            return remove_sorted(&mut self.bindings, edge);
        };
        match word {
            Word::Star => prune_boxed(&mut self.star, rest, edge),
            Word::Hash => prune_boxed(&mut self.hash, rest, edge),
            Word::Lit(w) => {
                let Some(child) = self.literal.get_mut(w.as_str()) else {
                    return false;
                };
                let removed = child.unbind(rest, edge);
                if child.is_empty() {
                    self.literal.remove(w.as_str());
                }
                removed
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.bindings.is_empty()
            && self.literal.is_empty()
            && self.star.is_none()
            && self.hash.is_none()
    }

    fn check(
        &self,
        path: &mut Vec<Word>,
        matchers: &[Option<Matcher>],
        out: &mut Vec<EdgeId>,
    ) -> Result<(), String> {
        if !path.is_empty() && self.is_empty() {
            return Err(format!("the topic trie keeps an empty node at {path:?}"));
        }
        for &e in &self.bindings {
            match matchers.get(e.index()) {
                Some(Some(Matcher::Topic(p))) if p.pattern_words() == path.as_slice() => {}
                Some(Some(_) | None) | None => {
                    return Err(format!("topic binding {e:?} is indexed under {path:?}"))
                }
            }
        }
        out.extend_from_slice(&self.bindings);
        let children = self
            .literal
            .iter()
            .map(|(w, child)| (Word::Lit(w.clone()), child))
            .chain(self.star.as_deref().map(|child| (Word::Star, child)))
            .chain(self.hash.as_deref().map(|child| (Word::Hash, child)));
        for (word, child) in children {
            path.push(word);
            child.check(path, matchers, out)?;
            path.pop();
        }
        Ok(())
    }
}

/// [`TrieNode::unbind`] into a `*` or `#` child, dropping the child if it is left empty.
fn prune_boxed(child: &mut Option<Box<TrieNode>>, rest: &[Word], edge: EdgeId) -> bool {
    let Some(node) = child else {
        return false;
    };
    let removed = node.unbind(rest, edge);
    if node.is_empty() {
        *child = None;
    }
    removed
}

/// Inserts `edge` into the sorted `edges`, unless it is there already. Returns true if it was
/// not.
fn insert_sorted(edges: &mut Vec<EdgeId>, edge: EdgeId) -> bool {
    let at = edges.binary_search(&edge);
    if let Err(at) = at {
        edges.insert(at, edge);
    }
    at.is_err()
}

/// Removes `edge` from the sorted `edges`. Returns true if it was there.
fn remove_sorted(edges: &mut Vec<EdgeId>, edge: EdgeId) -> bool {
    let at = edges.binary_search(&edge);
    if let Ok(at) = at {
        edges.remove(at);
    }
    at.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp::topic::words;
    use proptest::prelude::*;

    /// Binding-key words: wildcards, an empty word, and literals that look like wildcards.
    const PATTERN_WORDS: &[&str] = &["a", "b", "", "*", "#", "a#"];
    /// Routing-key words: `*` and `#` are plain words here.
    const KEY_WORDS: &[&str] = &["a", "b", "", "x", "*", "#", "a#"];

    /// 0 to 5 words from `alphabet`, joined with dots (so `""`, `"."`, `"a..b"` come up).
    fn key_from(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(alphabet), 0..6).prop_map(|ws| ws.join("."))
    }

    /// A binding key `TopicPattern` accepts (at most 2 `#` words).
    fn pattern() -> impl Strategy<Value = (String, TopicPattern)> {
        key_from(PATTERN_WORDS).prop_filter_map("at most 2 `#` words", |b| {
            TopicPattern::new(&b).ok().map(|p| (b, p))
        })
    }

    /// A message's routing keys: its routing key, and sometimes CC keys.
    fn message_keys(alphabet: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(key_from(alphabet), 1..4)
    }

    /// Binds `edges` in order, then unbinds those `gone` picks: the live edges, in id order.
    fn live<T>(edges: &[T], gone: &[bool]) -> Vec<usize> {
        (0..edges.len())
            .filter(|&i| !gone.get(i).copied().unwrap_or(false))
            .collect()
    }

    fn topic_matching(trie: &TopicTrie, keys: &[String]) -> Vec<EdgeId> {
        let split: Vec<Vec<&str>> = keys.iter().map(|k| words(k)).collect();
        let mut hits = Vec::new();
        trie.matching(&split, &mut hits);
        hits
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The trie finds exactly the bindings whose `TopicPattern` matches one of the keys, in
        /// edge id order, each once; unbinding leaves exactly the rest, with no empty node.
        #[test]
        fn topic_trie_finds_exactly_the_matching_patterns(
            patterns in prop::collection::vec(pattern(), 0..24),
            gone in prop::collection::vec(any::<bool>(), 0..24),
            messages in prop::collection::vec(message_keys(KEY_WORDS), 1..8),
        ) {
            let mut trie = TopicTrie::default();
            for (i, (_, p)) in patterns.iter().enumerate() {
                trie.bind(p, EdgeId(i as u32));
            }
            let live = live(&patterns, &gone);
            for (i, (_, p)) in patterns.iter().enumerate() {
                if !live.contains(&i) {
                    trie.unbind(p, EdgeId(i as u32));
                }
            }
            for keys in &messages {
                let want: Vec<EdgeId> = live
                    .iter()
                    .filter(|&&i| keys.iter().any(|k| patterns[i].1.matches_words(&words(k))))
                    .map(|&i| EdgeId(i as u32))
                    .collect();
                let got = topic_matching(&trie, keys);
                prop_assert_eq!(
                    &got, &want,
                    "keys {:?}, patterns {:?}",
                    keys,
                    live.iter().map(|&i| &patterns[i].0).collect::<Vec<_>>()
                );
            }
            let matchers: Vec<Option<Matcher>> =
                patterns.iter().map(|(_, p)| Some(Matcher::Topic(p.clone()))).collect();
            let mut held = Vec::new();
            prop_assert_eq!(trie.check(&matchers, &mut held), Ok(()));
            held.sort_unstable();
            let want: Vec<EdgeId> = live.iter().map(|&i| EdgeId(i as u32)).collect();
            prop_assert_eq!(trie.len, want.len());
            prop_assert_eq!(held, want);
        }

        /// The direct index finds exactly the bindings whose key equals one of the message's
        /// keys, in edge id order, each once, before and after unbinding.
        #[test]
        fn direct_index_finds_exactly_the_equal_keys(
            bound in prop::collection::vec(key_from(KEY_WORDS), 0..24),
            gone in prop::collection::vec(any::<bool>(), 0..24),
            messages in prop::collection::vec(message_keys(KEY_WORDS), 1..8),
        ) {
            let mut direct = DirectBindings::default();
            for (i, key) in bound.iter().enumerate() {
                direct.bind(key, EdgeId(i as u32));
            }
            let live = live(&bound, &gone);
            for (i, key) in bound.iter().enumerate() {
                if !live.contains(&i) {
                    direct.unbind(key, EdgeId(i as u32));
                }
            }
            for keys in &messages {
                let want: Vec<EdgeId> = live
                    .iter()
                    .filter(|&&i| keys.contains(&bound[i]))
                    .map(|&i| EdgeId(i as u32))
                    .collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let mut got = Vec::new();
                direct.matching(&refs, &mut got);
                prop_assert_eq!(got, want, "keys {:?}", keys);
            }
            prop_assert_eq!(
                direct.by_key.values().map(Vec::len).sum::<usize>(),
                live.len(),
                "unbound keys are gone"
            );
            prop_assert_eq!(direct.len, live.len());
        }
    }

    #[test]
    fn hash_matches_zero_or_more_words_anywhere() {
        let patterns = [
            "#", "#.#", "", "*", "#.a.#", "a.#", "#.a", "*.#", "#.*", ".", "a..b",
        ];
        let mut trie = TopicTrie::default();
        for (i, p) in patterns.iter().enumerate() {
            trie.bind(&TopicPattern::new(p).unwrap(), EdgeId(i as u32));
        }
        let hits = |key: &str| -> Vec<&str> {
            topic_matching(&trie, &[key.to_owned()])
                .into_iter()
                .map(|e| patterns[e.index()])
                .collect()
        };
        assert_eq!(hits(""), ["#", "#.#", ""]);
        assert_eq!(
            hits("a"),
            ["#", "#.#", "*", "#.a.#", "a.#", "#.a", "*.#", "#.*"]
        );
        assert_eq!(hits("."), ["#", "#.#", "*.#", "#.*", "."]);
        assert_eq!(
            hits("a..b"),
            ["#", "#.#", "#.a.#", "a.#", "*.#", "#.*", "a..b"]
        );
        assert_eq!(hits("b.a"), ["#", "#.#", "#.a.#", "#.a", "*.#", "#.*"]);
    }

    #[test]
    fn unbinding_everything_leaves_an_empty_trie() {
        let patterns = ["a.#", "a.*.b", "#.#", "*", "a", "a.b.c"];
        let mut trie = TopicTrie::default();
        for (i, p) in patterns.iter().enumerate() {
            trie.bind(&TopicPattern::new(p).unwrap(), EdgeId(i as u32));
        }
        for (i, p) in patterns.iter().enumerate().rev() {
            trie.unbind(&TopicPattern::new(p).unwrap(), EdgeId(i as u32));
        }
        assert!(trie.root.is_empty());
    }
}
