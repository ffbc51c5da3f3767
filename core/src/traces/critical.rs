//! The critical path of a trace: the chain of stretches that decided when its last span ended.
//!
//! Walk back in time from the span that ended last: what it waited for is the sibling that
//! ended last before it began (the previous stretch of the same message's life, the previous
//! step of the same handler), or, with none, its parent's beginning (the message was made by
//! the handling it hangs under). A sibling that is itself made of stretches (a message's own
//! span, an HTTP call, a handling with steps) is entered through the child that ended it. As in Jaeger's critical
//! path, every span on the chain is marked; spans running alongside it, which could have taken
//! longer without delaying the end, are not.

use super::Trace;
use crate::time::SimTime;

/// For each span of `t`, whether it is on the critical path; `ends` as [`Trace::ends`].
pub(super) fn path(t: &Trace, ends: &[SimTime]) -> Vec<bool> {
    let n = t.spans.len();
    let mut on = vec![false; n];
    if n == 0 {
        return on;
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in t.spans.iter().enumerate() {
        if let Some(p) = s.parent {
            children[p as usize].push(i);
        }
    }
    // Latest end first; at equal ends, the one that began later, then the later one.
    let key = |i: usize| (ends[i], t.spans[i].start, i);
    // Into a span made of stretches, through the stretch that ended it: a message's own span
    // through its last stretch; a handling through its last step that ended within it (a
    // message it published that outlives it did not delay it).
    let enter = |mut s: usize| loop {
        let own = t.spans[s].what.is_message();
        let next = children[s]
            .iter()
            .copied()
            .filter(|&c| {
                if own {
                    ends[c] == ends[s]
                } else {
                    ends[c] <= ends[s]
                }
            })
            .max_by_key(|&c| key(c));
        match next {
            Some(c) => s = c,
            None => return s,
        }
    };
    let Some(last) = (0..n).max_by_key(|&i| key(i)) else {
        return on;
    };
    let mut cur = enter(last);
    // Each move goes to a span that began earlier (or as early, and was known first), so
    // the walk ends; the bound only guards that reasoning.
    for _ in 0..=4 * n {
        on[cur] = true;
        let s = &t.spans[cur];
        let Some(parent) = s.parent.map(|p| p as usize) else {
            break;
        };
        let before = children[parent]
            .iter()
            .copied()
            .filter(|&c| {
                c != cur
                    && ends[c] <= s.start
                    && (t.spans[c].start < s.start || (t.spans[c].start == s.start && c < cur))
            })
            .max_by_key(|&c| key(c));
        cur = match before {
            Some(sibling) => enter(sibling),
            None => parent,
        };
    }
    on
}
