//! The event queue: what happens next, ordered by `(time, seq)`.
//!
//! Ties at the same microsecond break by insertion order, so two runs of the same scenario pop
//! entries in the same order on every platform.

use crate::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One scheduled entry.
///
/// An entry is 32 bytes when its payload is 16: the heap moves whole entries, so their size is
/// throughput. That is why the tie-break is a `u32` (renumbered, order kept, before it would
/// overflow) and why the node or edge an entry is about can sit beside the payload (`on`)
/// rather than in it.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    /// When it is due.
    pub at: SimTime,
    /// The tie-break between entries due at the same time: pushed earlier, smaller.
    pub seq: u32,
    /// The index of the node or edge the entry is about, for payloads that keep it here.
    pub on: u32,
    /// What is due.
    pub due: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-queue of entries by `(at, seq)`.
#[derive(Clone, Debug)]
pub struct Agenda<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    next_seq: u32,
    /// When `next_seq` reaches this, the pending entries are renumbered from 0 in their order.
    /// `u32::MAX`, except in tests.
    renumber_at: u32,
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Agenda {
            heap: BinaryHeap::new(),
            next_seq: 0,
            renumber_at: u32::MAX,
        }
    }
}

impl<T> Agenda<T> {
    /// Schedules `due` at `at`, about node or edge `on`.
    #[inline(always)]
    pub fn push(&mut self, at: SimTime, on: u32, due: T) {
        if self.next_seq == self.renumber_at {
            self.renumber();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { at, seq, on, due }));
    }

    /// Numbers the pending entries 0, 1, … in `(at, seq)` order, so that the tie-break keeps
    /// its meaning (pushed earlier, smaller) with room for 2^32 more pushes. What pops next,
    /// and in which order, is unchanged: it depends on the order of the numbers, not on them.
    #[cold]
    #[inline(never)]
    fn renumber(&mut self) {
        let all = std::mem::take(&mut self.heap).into_sorted_vec();
        // into_sorted_vec of Reverse is descending by (at, seq); walk it backwards.
        let mut renumbered = Vec::with_capacity(all.len());
        for (seq, Reverse(mut e)) in (0u32..).zip(all.into_iter().rev()) {
            e.seq = seq;
            renumbered.push(Reverse(e));
        }
        self.next_seq = u32::try_from(renumbered.len()).expect("fewer than 2^32 pending entries");
        assert!(self.next_seq < self.renumber_at, "the agenda is full");
        self.heap = BinaryHeap::from(renumbered);
    }

    /// The time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|r| r.0.at)
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry<T>> {
        self.heap.pop().map(|r| r.0)
    }

    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Every pending entry, in no particular order. Use for checks that do not depend on order.
    pub fn iter_unordered(&self) -> impl Iterator<Item = &Entry<T>> {
        self.heap.iter().map(|r| &r.0)
    }

    /// Removes the entries for which `remove` is true, calling `removed` on each (in `(at, seq)`
    /// order, so what it does is deterministic).
    pub fn remove_where(
        &mut self,
        mut remove: impl FnMut(&Entry<T>) -> bool,
        mut removed: impl FnMut(Entry<T>),
    ) {
        let all = std::mem::take(&mut self.heap).into_sorted_vec();
        // into_sorted_vec of Reverse is descending by (at, seq); walk it backwards.
        let mut kept = Vec::with_capacity(all.len());
        for Reverse(e) in all.into_iter().rev() {
            if remove(&e) {
                removed(e);
            } else {
                kept.push(Reverse(e));
            }
        }
        self.heap = BinaryHeap::from(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut a = Agenda::default();
        a.push(SimTime(5), 0, "late");
        a.push(SimTime(1), 0, "first-at-1");
        a.push(SimTime(1), 0, "second-at-1");
        a.push(SimTime(0), 0, "zero");
        let order: Vec<_> = std::iter::from_fn(|| a.pop().map(|e| e.due)).collect();
        assert_eq!(order, ["zero", "first-at-1", "second-at-1", "late"]);
    }

    #[test]
    fn remove_where_reports_in_order_and_keeps_the_rest() {
        let mut a = Agenda::default();
        for (t, v) in [(3, 30), (1, 11), (2, 20), (1, 10)] {
            a.push(SimTime(t), 0, v);
        }
        let mut removed = vec![];
        a.remove_where(|e| e.due % 10 == 0, |e| removed.push(e.due));
        assert_eq!(removed, [10, 20, 30]);
        assert_eq!(a.pop().map(|e| e.due), Some(11));
        assert!(a.is_empty());
    }

    #[test]
    fn renumbering_keeps_the_order_of_ties_and_of_everything_else() {
        // The same pushes and pops into an agenda that renumbers every few pushes and into
        // one that never does must pop the same entries in the same order.
        let mut tight = Agenda {
            renumber_at: 50,
            ..Agenda::default()
        };
        let mut plain = Agenda::default();
        let mut popped = (vec![], vec![]);
        let mut x = 12345u32;
        for i in 0..2000u32 {
            // A small time range, so that many entries tie.
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let at = SimTime(u64::from(x >> 28));
            if x.is_multiple_of(3) || tight.len() >= 40 {
                popped.0.extend(tight.pop().map(|e| (e.at, e.due)));
                popped.1.extend(plain.pop().map(|e| (e.at, e.due)));
            } else {
                tight.push(at, 0, i);
                plain.push(at, 0, i);
            }
            assert!(tight.next_seq <= 50, "renumbered before it overflows");
        }
        while let Some(e) = plain.pop() {
            popped.1.push((e.at, e.due));
        }
        while let Some(e) = tight.pop() {
            popped.0.push((e.at, e.due));
        }
        assert!(
            popped.1.len() > 1000,
            "enough pushes to renumber many times"
        );
        assert_eq!(popped.0, popped.1);
    }

    #[test]
    fn entries_stay_32_bytes_with_a_16_byte_payload() {
        assert_eq!(std::mem::size_of::<Entry<[u64; 2]>>(), 32);
    }
}
