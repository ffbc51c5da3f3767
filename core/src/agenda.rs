//! The event queue: what happens next, ordered by `(time, seq)`.
//!
//! Ties at the same microsecond break by insertion order, so two runs of the same scenario pop
//! entries in the same order on every platform.

use crate::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One scheduled entry.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    /// When it is due.
    pub at: SimTime,
    /// Insertion number: the tie-break.
    pub seq: u64,
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
    next_seq: u64,
}

impl<T> Default for Agenda<T> {
    fn default() -> Self {
        Agenda {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Agenda<T> {
    /// Schedules `due` at `at`.
    #[inline]
    pub fn push(&mut self, at: SimTime, due: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { at, seq, due }));
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
        mut remove: impl FnMut(&T) -> bool,
        mut removed: impl FnMut(Entry<T>),
    ) {
        let all = std::mem::take(&mut self.heap).into_sorted_vec();
        // into_sorted_vec of Reverse is descending by (at, seq); walk it backwards.
        let mut kept = Vec::with_capacity(all.len());
        for Reverse(e) in all.into_iter().rev() {
            if remove(&e.due) {
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
        a.push(SimTime(5), "late");
        a.push(SimTime(1), "first-at-1");
        a.push(SimTime(1), "second-at-1");
        a.push(SimTime(0), "zero");
        let order: Vec<_> = std::iter::from_fn(|| a.pop().map(|e| e.due)).collect();
        assert_eq!(order, ["zero", "first-at-1", "second-at-1", "late"]);
    }

    #[test]
    fn remove_where_reports_in_order_and_keeps_the_rest() {
        let mut a = Agenda::default();
        for (t, v) in [(3, 30), (1, 11), (2, 20), (1, 10)] {
            a.push(SimTime(t), v);
        }
        let mut removed = vec![];
        a.remove_where(|v| v % 10 == 0, |e| removed.push(e.due));
        assert_eq!(removed, [10, 20, 30]);
        assert_eq!(a.pop().map(|e| e.due), Some(11));
        assert!(a.is_empty());
    }
}
