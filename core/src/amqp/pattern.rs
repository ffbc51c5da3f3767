//! Policy patterns: the regular expressions RabbitMQ matches names with (Erlang's `re`, which is
//! PCRE), searched for anywhere in a name, byte by byte as `re:run/3` does without its
//! `unicode` option.
//!
//! Written here rather than taken from a crate: the crates that accept lookahead (`fancy-regex`,
//! `regress`) add 120 to 230 KB (gzipped) to the page, which is already over its weight budget,
//! for patterns that are a few dozen bytes long and names of at most 255. A test checks this
//! matcher against `fancy-regex` on generated patterns and names (`tests/policy_patterns.rs`).
//!
//! Supported, with PCRE's meaning: literals and escapes (`\.`, `\\`, `\t`, `\n`, `\xHH`); `.`;
//! classes (`[a-z_]`, `[^.]`, POSIX `[:alpha:]`) and `\d \D \w \W \s \S` (ASCII, as without
//! `unicode`); anchors `^ $ \A \z \Z \b \B`; groups `( )`, `(?: )`, `(?<name> )`, `(?P<name> )`;
//! alternation; quantifiers `* + ? {n} {n,} {n,m}`, greedy, lazy (`*?`) and possessive (`*+`);
//! lookahead `(?= )` `(?! )` and lookbehind `(?<= )` `(?<! )`; the flags `i`, `m`, `s` and `x`,
//! inline (`(?i)`) or scoped (`(?i: )`). Not supported (refused with a message naming it):
//! backreferences, atomic groups, recursion, conditionals, `\p{…}` classes and callouts.
//!
//! Like RabbitMQ 4.3 (`rabbit_re`, a match limit of 50,000), a match that takes too many steps
//! gives up and counts as no match, so no pattern can stall a run.

use std::cell::Cell;

/// A compiled policy pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    alt: Alt,
}

/// Alternatives, each a sequence.
#[derive(Clone, Debug, PartialEq)]
struct Alt(Vec<Vec<Node>>);

/// 256 bits: the bytes a class matches.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Set([u64; 4]);

impl Set {
    const EMPTY: Set = Set([0; 4]);
    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
    fn add(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    fn add_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.add(b);
        }
    }
    fn union(&mut self, o: &Set) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
    }
    fn negated(mut self) -> Set {
        for a in &mut self.0 {
            *a = !*a;
        }
        self
    }
    fn of(pred: impl Fn(u8) -> bool) -> Set {
        let mut s = Set::EMPTY;
        for b in 0..=255u8 {
            if pred(b) {
                s.add(b);
            }
        }
        s
    }
    /// With the other case of every ASCII letter.
    fn caseless(self) -> Set {
        let mut s = self;
        for b in 0..=255u8 {
            if self.has(b) && b.is_ascii_alphabetic() {
                s.add(b ^ 0x20);
            }
        }
        s
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// PCRE's `\s` without `unicode`: space, \t, \n, \v, \f, \r.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    /// One byte of a set.
    Bytes(Set),
    /// `^`: the start of the subject (or, with `m`, of a line).
    Start { multiline: bool },
    /// `$`: the end, or before a final newline (or, with `m`, before any newline).
    End { multiline: bool },
    /// `\A`.
    StartText,
    /// `\z`.
    EndText,
    /// `\b` (true) or `\B` (false).
    WordBoundary(bool),
    /// A group.
    Group(Alt),
    /// A quantified item.
    Repeat {
        item: Box<Node>,
        min: u32,
        max: Option<u32>,
        kind: Greed,
    },
    /// A lookaround: `ahead` or behind, positive or `negate`d.
    Look { ahead: bool, negate: bool, alt: Alt },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Greed {
    Greedy,
    Lazy,
    Possessive,
}

#[derive(Clone, Copy, Default)]
struct Flags {
    caseless: bool,
    multiline: bool,
    dotall: bool,
    extended: bool,
}

/// The most nested groups a pattern may have (patterns are at most 1024 bytes).
const MAX_DEPTH: usize = 64;
/// The most steps a match may take before it gives up (RabbitMQ 4.3's `match_limit`).
pub const MATCH_LIMIT: u32 = 50_000;

struct Parser<'a> {
    p: &'a [u8],
    i: usize,
    depth: usize,
}

impl Pattern {
    /// Compiles `pattern`, or says what is wrong with it and where (a byte offset).
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let mut ps = Parser {
            p: pattern.as_bytes(),
            i: 0,
            depth: 0,
        };
        let mut flags = Flags::default();
        let alt = ps.alt(&mut flags)?;
        if ps.i < ps.p.len() {
            // Only an unmatched `)` stops the top level early.
            return Err(format!("unmatched ) at offset {}", ps.i));
        }
        Ok(Pattern { alt })
    }

    /// True if the pattern matches somewhere in `name` (as `re:run(Name, Pattern,
    /// [{capture, none}])`), within [`MATCH_LIMIT`] steps; a match that gives up is no match.
    pub fn is_match(&self, name: &str) -> bool {
        self.try_match(name).unwrap_or(false)
    }

    /// Whether the pattern matches somewhere in `name`, or `None` if it gave up after
    /// [`MATCH_LIMIT`] steps.
    pub fn try_match(&self, name: &str) -> Option<bool> {
        let m = Matcher {
            s: name.as_bytes(),
            steps: Cell::new(0),
        };
        for start in 0..=m.s.len() {
            if m.alt(&self.alt, start, &mut |_, _| true) {
                return Some(true);
            }
            if m.steps.get() > MATCH_LIMIT {
                return None;
            }
        }
        Some(false)
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.p.get(self.i).copied()
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {}", self.i))
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Alternatives up to a `)` or the end. Flags set inline inside reach to its end.
    fn alt(&mut self, flags: &mut Flags) -> Result<Alt, String> {
        let mut branches = vec![self.seq(flags)?];
        while self.eat(b'|') {
            branches.push(self.seq(flags)?);
        }
        Ok(Alt(branches))
    }

    fn seq(&mut self, flags: &mut Flags) -> Result<Vec<Node>, String> {
        let mut out: Vec<Node> = Vec::new();
        loop {
            if flags.extended {
                self.skip_extended();
            }
            let Some(b) = self.peek() else { break };
            if b == b'|' || b == b')' {
                break;
            }
            let Some(atom) = self.atom(flags)? else {
                continue; // an inline flag setting: nothing to match
            };
            if flags.extended {
                self.skip_extended();
            }
            let atom = self.quantified(atom)?;
            out.push(atom);
        }
        Ok(out)
    }

    fn skip_extended(&mut self) {
        while let Some(b) = self.peek() {
            if is_space(b) {
                self.i += 1;
            } else if b == b'#' {
                while self.peek().is_some_and(|b| b != b'\n') {
                    self.i += 1;
                }
            } else {
                break;
            }
        }
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let single = match self.peek() {
            Some(b'*') => Some((0, None)),
            Some(b'+') => Some((1, None)),
            Some(b'?') => Some((0, Some(1))),
            _ => None,
        };
        let (min, max) = match (single, self.peek()) {
            (Some(q), _) => {
                self.i += 1;
                q
            }
            (None, Some(b'{')) => match self.counted()? {
                Some(q) => q,
                None => return Ok(atom),
            },
            (None, _) => return Ok(atom),
        };
        if matches!(
            atom,
            Node::Start { .. }
                | Node::End { .. }
                | Node::StartText
                | Node::EndText
                | Node::WordBoundary(_)
        ) {
            return self.err("quantifier does not follow a repeatable item");
        }
        let kind = if self.eat(b'?') {
            Greed::Lazy
        } else if self.eat(b'+') {
            Greed::Possessive
        } else {
            Greed::Greedy
        };
        if matches!(self.peek(), Some(b'*' | b'+' | b'?')) {
            return self.err("nothing to repeat");
        }
        Ok(Node::Repeat {
            item: Box::new(atom),
            min,
            max,
            kind,
        })
    }

    /// `{n}`, `{n,}`, `{n,m}` (consumed), or `None` if the brace is a literal (PCRE).
    fn counted(&mut self) -> Result<Option<(u32, Option<u32>)>, String> {
        let rest = &self.p[self.i..];
        let close = match rest.iter().position(|&b| b == b'}') {
            Some(c) => c,
            None => return Ok(None),
        };
        let body = std::str::from_utf8(&rest[1..close]).unwrap_or("");
        let num = |s: &str| -> Option<u32> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (min, max) = match body.split_once(',') {
            None => match num(body) {
                Some(n) => (n, Some(n)),
                None => return Ok(None),
            },
            Some((lo, hi)) => match (num(lo), hi.is_empty(), num(hi)) {
                (Some(lo), true, _) => (lo, None),
                (Some(lo), false, Some(hi)) => (lo, Some(hi)),
                _ => return Ok(None),
            },
        };
        if min > 65_535 || max.is_some_and(|m| m > 65_535) {
            return self.err("number too big in {} quantifier");
        }
        if max.is_some_and(|m| m < min) {
            return self.err("numbers out of order in {} quantifier");
        }
        self.i += close + 1;
        Ok(Some((min, max)))
    }

    /// One item, or `None` for an inline flag setting such as `(?i)`.
    fn atom(&mut self, flags: &mut Flags) -> Result<Option<Node>, String> {
        let b = self.p[self.i];
        self.i += 1;
        let set = |s: Set, f: &Flags| Node::Bytes(if f.caseless { s.caseless() } else { s });
        Ok(Some(match b {
            b'.' => Node::Bytes(if flags.dotall {
                Set::of(|_| true)
            } else {
                Set::of(|b| b != b'\n')
            }),
            b'^' => Node::Start {
                multiline: flags.multiline,
            },
            b'$' => Node::End {
                multiline: flags.multiline,
            },
            b'[' => Node::Bytes(self.class(flags.caseless)?),
            b'(' => return self.group(flags),
            b'\\' => match self.escape(false)? {
                Escaped::Byte(b) => set(Set::of(|x| x == b), flags),
                Escaped::Set(s) => set(s, flags),
                Escaped::Node(n) => n,
            },
            b'*' | b'+' | b'?' => {
                self.i -= 1;
                return self.err("quantifier does not follow a repeatable item");
            }
            b'{' if self.counted_ahead() => {
                self.i -= 1;
                return self.err("quantifier does not follow a repeatable item");
            }
            other => set(Set::of(|x| x == other), flags),
        }))
    }

    fn counted_ahead(&self) -> bool {
        let mut probe = Parser {
            p: self.p,
            i: self.i - 1,
            depth: 0,
        };
        matches!(probe.counted(), Ok(Some(_)))
    }

    fn group(&mut self, outer: &mut Flags) -> Result<Option<Node>, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("parentheses are too deeply nested");
        }
        let mut flags = *outer;
        let node = if self.eat(b'?') {
            match self.peek() {
                Some(b':') => {
                    self.i += 1;
                    Node::Group(self.alt(&mut flags)?)
                }
                Some(b'=') | Some(b'!') => {
                    let negate = self.peek() == Some(b'!');
                    self.i += 1;
                    Node::Look {
                        ahead: true,
                        negate,
                        alt: self.alt(&mut flags)?,
                    }
                }
                Some(b'<') if matches!(self.p.get(self.i + 1), Some(b'=') | Some(b'!')) => {
                    let negate = self.p[self.i + 1] == b'!';
                    self.i += 2;
                    Node::Look {
                        ahead: false,
                        negate,
                        alt: self.alt(&mut flags)?,
                    }
                }
                Some(b'<') | Some(b'P') | Some(b'\'') => {
                    if self.peek() == Some(b'P') {
                        self.i += 1;
                        if self.peek() != Some(b'<') {
                            return self.err("(?P is supported only as (?P<name>...)");
                        }
                    }
                    let close = if self.peek() == Some(b'\'') {
                        b'\''
                    } else {
                        b'>'
                    };
                    self.i += 1;
                    let start = self.i;
                    while self.peek().is_some_and(is_word) {
                        self.i += 1;
                    }
                    if self.i == start || !self.eat(close) {
                        return self.err("bad group name");
                    }
                    Node::Group(self.alt(&mut flags)?)
                }
                _ => {
                    // Flags: (?imsx-imsx) or (?imsx-imsx: ...).
                    let mut on = true;
                    loop {
                        match self.peek() {
                            Some(b'i') => flags.caseless = on,
                            Some(b'm') => flags.multiline = on,
                            Some(b's') => flags.dotall = on,
                            Some(b'x') => flags.extended = on,
                            Some(b'-') if on => on = false,
                            Some(b')') => {
                                self.i += 1;
                                self.depth -= 1;
                                *outer = flags;
                                return Ok(None);
                            }
                            Some(b':') => {
                                self.i += 1;
                                break;
                            }
                            Some(b'>') => {
                                return self.err("atomic groups (?>...) are not supported")
                            }
                            Some(b'(') => return self.err("conditional groups are not supported"),
                            Some(b'R' | b'0'..=b'9' | b'&' | b'+') => {
                                return self.err("recursion is not supported")
                            }
                            Some(b'#') => return self.err("comments (?#...) are not supported"),
                            Some(b'C') => return self.err("callouts are not supported"),
                            _ => return self.err("unrecognized character after (?"),
                        }
                        self.i += 1;
                    }
                    Node::Group(self.alt(&mut flags)?)
                }
            }
        } else {
            Node::Group(self.alt(&mut flags)?)
        };
        if !self.eat(b')') {
            return self.err("missing )");
        }
        self.depth -= 1;
        Ok(Some(node))
    }

    /// After `[`: the class up to its `]`.
    fn class(&mut self, caseless: bool) -> Result<Set, String> {
        let negate = self.eat(b'^');
        let mut set = Set::EMPTY;
        let mut first = true;
        loop {
            let Some(b) = self.peek() else {
                return self.err("missing terminating ] for character class");
            };
            if b == b']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            if b == b'[' && self.p.get(self.i + 1) == Some(&b':') {
                if let Some(s) = self.posix()? {
                    set.union(&s);
                    continue;
                }
            }
            let lo = match self.class_atom()? {
                Err(s) => {
                    set.union(&s);
                    continue;
                }
                Ok(lo) => lo,
            };
            if self.peek() == Some(b'-') && self.p.get(self.i + 1).is_some_and(|&b| b != b']') {
                self.i += 1;
                match self.class_atom()? {
                    Ok(hi) if hi >= lo => set.add_range(lo, hi),
                    Ok(_) => return self.err("range out of order in character class"),
                    Err(s) => {
                        // `[a-\d]`: PCRE takes the `-` literally.
                        set.add(lo);
                        set.add(b'-');
                        set.union(&s);
                    }
                }
            } else {
                set.add(lo);
            }
        }
        // Case folds before the negation: `(?i)[^a]` matches neither `a` nor `A`.
        let set = if caseless { set.caseless() } else { set };
        Ok(if negate { set.negated() } else { set })
    }

    /// One byte of a class, or (`Err`) a set such as `\d`.
    fn class_atom(&mut self) -> Result<Result<u8, Set>, String> {
        let b = self.p[self.i];
        self.i += 1;
        if b != b'\\' {
            return Ok(Ok(b));
        }
        match self.escape(true)? {
            Escaped::Byte(b) => Ok(Ok(b)),
            Escaped::Set(s) => Ok(Err(s)),
            Escaped::Node(_) => self.err("escape not allowed in a character class"),
        }
    }

    /// `[:alpha:]` and the rest, at `[`; `None` if it is not one.
    fn posix(&mut self) -> Result<Option<Set>, String> {
        let rest = &self.p[self.i + 2..];
        let Some(end) = rest.windows(2).position(|w| w == b":]") else {
            return Ok(None);
        };
        let (negate, name) = match &rest[..end] {
            [b'^', name @ ..] => (true, name),
            name => (false, name),
        };
        let s = match name {
            b"alpha" => Set::of(|b| b.is_ascii_alphabetic()),
            b"digit" => Set::of(|b| b.is_ascii_digit()),
            b"alnum" => Set::of(|b| b.is_ascii_alphanumeric()),
            b"upper" => Set::of(|b| b.is_ascii_uppercase()),
            b"lower" => Set::of(|b| b.is_ascii_lowercase()),
            b"space" => Set::of(is_space),
            b"blank" => Set::of(|b| b == b' ' || b == b'\t'),
            b"punct" => Set::of(|b| b.is_ascii_punctuation()),
            b"xdigit" => Set::of(|b| b.is_ascii_hexdigit()),
            b"word" => Set::of(is_word),
            b"cntrl" => Set::of(|b| b.is_ascii_control()),
            b"print" => Set::of(|b| (0x20..0x7f).contains(&b)),
            b"graph" => Set::of(|b| b.is_ascii_graphic()),
            b"ascii" => Set::of(|b| b < 0x80),
            _ => return self.err("unknown POSIX class name"),
        };
        self.i += 2 + end + 2;
        Ok(Some(if negate { s.negated() } else { s }))
    }

    /// After `\`.
    fn escape(&mut self, in_class: bool) -> Result<Escaped, String> {
        let Some(b) = self.peek() else {
            return self.err("\\ at end of pattern");
        };
        self.i += 1;
        let one = |b: u8| Ok(Escaped::Byte(b));
        match b {
            b'd' => Ok(Escaped::Set(Set::of(|b| b.is_ascii_digit()))),
            b'D' => Ok(Escaped::Set(Set::of(|b| !b.is_ascii_digit()))),
            b'w' => Ok(Escaped::Set(Set::of(is_word))),
            b'W' => Ok(Escaped::Set(Set::of(|b| !is_word(b)))),
            b's' => Ok(Escaped::Set(Set::of(is_space))),
            b'S' => Ok(Escaped::Set(Set::of(|b| !is_space(b)))),
            b't' => one(b'\t'),
            b'n' => one(b'\n'),
            b'r' => one(b'\r'),
            b'f' => one(0x0c),
            b'v' => one(0x0b),
            b'e' => one(0x1b),
            b'a' => one(0x07),
            b'x' => {
                let digits: Vec<u8> = self.p[self.i..]
                    .iter()
                    .take(2)
                    .take_while(|b| b.is_ascii_hexdigit())
                    .copied()
                    .collect();
                if digits.is_empty() || self.peek() == Some(b'{') {
                    return self.err("\\x is supported only as \\xHH");
                }
                self.i += digits.len();
                let v = u8::from_str_radix(std::str::from_utf8(&digits).unwrap_or("0"), 16)
                    .unwrap_or(0);
                one(v)
            }
            b'b' if in_class => one(0x08),
            b'b' => Ok(Escaped::Node(Node::WordBoundary(true))),
            b'B' if !in_class => Ok(Escaped::Node(Node::WordBoundary(false))),
            b'A' if !in_class => Ok(Escaped::Node(Node::StartText)),
            b'z' if !in_class => Ok(Escaped::Node(Node::EndText)),
            b'Z' if !in_class => Ok(Escaped::Node(Node::End { multiline: false })),
            b'0'..=b'9' => self.err("backreferences and octal escapes are not supported"),
            b'p' | b'P' | b'X' | b'R' | b'h' | b'H' | b'V' | b'N' | b'K' | b'G' | b'Q' | b'E'
            | b'g' | b'k' | b'c' | b'o' | b'u' | b'U' | b'L' | b'l' | b'C' => {
                self.i -= 1;
                self.err(&format!("\\{} is not supported", b as char))
            }
            b if b.is_ascii_alphanumeric() => {
                self.i -= 1;
                self.err("unrecognized escape")
            }
            other => one(other),
        }
    }
}

enum Escaped {
    Byte(u8),
    Set(Set),
    Node(Node),
}

/// A backtracking match over one subject.
struct Matcher<'s> {
    s: &'s [u8],
    steps: Cell<u32>,
}

/// What comes after: called with the position reached.
type Cont<'c> = &'c mut dyn FnMut(&Matcher<'_>, usize) -> bool;

impl Matcher<'_> {
    fn spent(&self) -> bool {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        n > MATCH_LIMIT
    }

    fn alt(&self, alt: &Alt, pos: usize, k: Cont<'_>) -> bool {
        alt.0.iter().any(|branch| self.seq(branch, pos, &mut *k))
    }

    fn seq(&self, nodes: &[Node], pos: usize, k: Cont<'_>) -> bool {
        if self.spent() {
            return false;
        }
        let Some((node, rest)) = nodes.split_first() else {
            return k(self, pos);
        };
        let s = self.s;
        let word = |i: usize| i < s.len() && is_word(s[i]);
        match node {
            Node::Bytes(set) => pos < s.len() && set.has(s[pos]) && self.seq(rest, pos + 1, k),
            Node::Start { multiline } => {
                (pos == 0 || (*multiline && s[pos - 1] == b'\n')) && self.seq(rest, pos, k)
            }
            Node::End { multiline } => {
                let at_end = pos == s.len()
                    || (pos + 1 == s.len() && s[pos] == b'\n')
                    || (*multiline && s[pos] == b'\n');
                at_end && self.seq(rest, pos, k)
            }
            Node::StartText => pos == 0 && self.seq(rest, pos, k),
            Node::EndText => pos == s.len() && self.seq(rest, pos, k),
            Node::WordBoundary(want) => {
                let at = pos > 0 && word(pos - 1);
                (at != word(pos)) == *want && self.seq(rest, pos, k)
            }
            Node::Group(alt) => self.alt(alt, pos, &mut |m, p| m.seq(rest, p, &mut *k)),
            Node::Look { ahead, negate, alt } => {
                let found = if *ahead {
                    self.alt(alt, pos, &mut |_, _| true)
                } else {
                    (0..=pos)
                        .rev()
                        .any(|j| self.alt(alt, j, &mut |_, p| p == pos))
                };
                found != *negate && self.seq(rest, pos, k)
            }
            Node::Repeat {
                item,
                min,
                max,
                kind,
            } => match kind {
                Greed::Possessive => {
                    // As many as match, never given back.
                    let mut p = pos;
                    let mut n = 0;
                    while max.is_none_or(|m| n < m) {
                        let mut next = None;
                        if !self.seq(std::slice::from_ref(item), p, &mut |_, q| {
                            next = Some(q);
                            true
                        }) {
                            break;
                        }
                        match next {
                            Some(q) if q != p => p = q,
                            _ => {
                                n = n.max(*min);
                                break;
                            }
                        }
                        n += 1;
                    }
                    n >= *min && self.seq(rest, p, k)
                }
                Greed::Greedy | Greed::Lazy => {
                    self.repeat(item, *min, *max, *kind == Greed::Lazy, 0, pos, rest, k)
                }
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &self,
        item: &Node,
        min: u32,
        max: Option<u32>,
        lazy: bool,
        n: u32,
        pos: usize,
        rest: &[Node],
        k: Cont<'_>,
    ) -> bool {
        if self.spent() {
            return false;
        }
        let more = max.is_none_or(|m| n < m);
        let again = |m: &Matcher<'_>, k: Cont<'_>| {
            more && m.seq(std::slice::from_ref(item), pos, &mut |m, p| {
                // An iteration that matched nothing ends the repetition (PCRE), once the
                // minimum is met.
                (p != pos || n < min) && m.repeat(item, min, max, lazy, n + 1, p, rest, &mut *k)
            })
        };
        if n < min {
            return again(self, k);
        }
        if lazy {
            self.seq(rest, pos, &mut *k) || again(self, k)
        } else {
            again(self, &mut *k) || self.seq(rest, pos, k)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::new(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(s)
    }

    #[test]
    fn the_patterns_policies_use() {
        assert!(m("^(?!amq\\.).*", "orders"));
        assert!(!m("^(?!amq\\.).*", "amq.topic"));
        assert!(m("queue", "x.queue.y"), "unanchored");
        assert!(!m("^queue$", "x.queue"));
        assert!(m("^orders\\.\\d+$", "orders.42"));
        assert!(!m("^orders\\.\\d+$", "orders.4x"));
        assert!(m("", "anything"));
        assert!(m(".*", ""));
        assert!(m("^(eu|us)\\.", "us.orders"));
        assert!(m("(?i)^ORDERS", "orders.eu"));
        assert!(m("^[a-z_]+(-dlq)?$", "orders-dlq"));
        assert!(m("^a{2,3}$", "aaa"));
        assert!(!m("^a{2,3}$", "aaaa"));
        assert!(
            m("^a{,3}$", "a{,3}"),
            "a brace that is not a quantifier is literal"
        );
        assert!(m("(?<=\\.)dlq$", "orders.dlq"));
        assert!(!m("(?<!\\.)dlq$", "orders.dlq"));
        assert!(m("\\bdlq\\b", "orders dlq"));
        assert!(m("^[[:alpha:]]+$", "Orders"));
        assert!(!m("^.$", "é"), ". is one byte, as in re without unicode");
        assert!(m("^..$", "é"));
        assert!(m("^a$", "a\n"), "$ before a final newline");
        assert!(m("^a*+$", "aaa"));
        assert!(!m("^a*+a$", "aaa"), "possessive gives nothing back");
        assert!(m("^a*?b", "aaab"));
    }

    #[test]
    fn bad_patterns_say_what_and_where() {
        for (p, why) in [
            ("(", "missing )"),
            ("a)", "unmatched )"),
            ("[a-", "missing terminating ]"),
            ("*a", "does not follow"),
            ("a**", "nothing to repeat"),
            ("(\\w)\\1", "backreferences"),
            ("(?>a)", "atomic"),
            ("\\p{L}", "\\p is not supported"),
            ("[z-a]", "out of order"),
        ] {
            let e = Pattern::new(p).unwrap_err();
            assert!(e.contains(why) && e.contains("offset"), "{p}: {e}");
        }
    }

    #[test]
    fn a_catastrophic_pattern_gives_up_as_no_match() {
        let p = Pattern::new("^(a+)+$").unwrap();
        assert!(!p.is_match(&format!("{}b", "a".repeat(40))));
        assert!(p.is_match(&"a".repeat(40)));
    }
}
