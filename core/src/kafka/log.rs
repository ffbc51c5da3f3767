//! One partition's log: records at dense offsets, cut into segments, with Kafka's retention
//! (`UnifiedLog.deleteRetentionMsBreachedSegments`, `deleteRetentionSizeBreachedSegments`) and
//! compaction (`LogCleaner`), as plain data and functions of the clock.
//!
//! Offsets are given at append and never change. Retention deletes whole segments from the
//! front and moves the log start offset; compaction removes records from inside inactive
//! segments, leaving gaps in the offsets, never reordering.

use super::kind::TopicConfig;
use crate::id::MessageId;
use crate::message::Envelope;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// An interned record key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

/// A record in a partition's log.
#[derive(Clone, Debug)]
pub struct Record {
    /// Its offset, for life.
    pub offset: u64,
    /// Its key; `None` for a null key.
    pub key: Option<KeyId>,
    /// A tombstone: a key with a null value.
    pub tombstone: bool,
    /// Its size (key, value and header bytes).
    pub bytes: u32,
    /// Its timestamp (`CreateTime`).
    pub timestamp: SimTime,
    /// For a tombstone the cleaner has seen: when it may be removed.
    pub horizon: Option<SimTime>,
    /// The message, stored in the log itself: a record's memory is the log's, so a deleted
    /// segment frees no message one by one.
    pub msg: Envelope,
}

/// A segment: the records from `base` up to the next segment's base, stored in the segment
/// (so deleting a segment frees its records at once, as Kafka deletes a segment's file).
#[derive(Clone, Debug, Default)]
pub struct Segment {
    /// Its base offset.
    pub base: u64,
    /// The bytes of its records.
    pub bytes: u64,
    /// Its records, by offset (compaction leaves gaps).
    pub records: Vec<Record>,
    /// The timestamp of its first record (what `segment.ms` counts from).
    pub first_ts: Option<SimTime>,
    /// Its largest record timestamp (what `retention.ms` compares).
    pub max_ts: SimTime,
}

impl Segment {
    fn new(base: u64) -> Segment {
        Segment {
            base,
            ..Segment::default()
        }
    }
}

/// Why segments were deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionCause {
    /// `retention.ms`.
    Time,
    /// `retention.bytes`.
    Size,
}

impl RetentionCause {
    /// The setting that caused it.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionCause::Time => "retention.ms",
            RetentionCause::Size => "retention.bytes",
        }
    }
}

/// A segment deleted by retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// Its base offset.
    pub base: u64,
    /// Its records' messages.
    pub messages: Vec<MessageId>,
    /// Why.
    pub cause: RetentionCause,
}

/// What one cleaning did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cleaned {
    /// The offsets it cleaned: `[from, to)`.
    pub from: u64,
    /// The end of the cleaned range.
    pub to: u64,
    /// The messages of the records it removed.
    pub removed: Vec<MessageId>,
    /// How many tombstones it removed (their delete horizon had passed).
    pub tombstones_removed: u32,
}

/// What the broker remembers of an idempotent producer on one partition: its last batches'
/// sequence numbers (Kafka keeps five), to tell a retried batch from a new one.
#[derive(Clone, Debug, Default)]
pub struct ProducerEntry {
    /// `(first sequence, last sequence, base offset)` of the last batches, oldest first.
    pub batches: VecDeque<(u32, u32, u64)>,
}

/// How an idempotent batch's sequence compares with what the partition has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequence {
    /// The next one: append it.
    InOrder,
    /// A batch already appended (at this base offset): acknowledge it, append nothing.
    Duplicate(u64),
    /// A gap: `OutOfOrderSequenceException`.
    OutOfOrder,
}

/// A partition's log.
#[derive(Clone, Debug, Default)]
pub struct PartitionLog {
    /// Its segments, oldest first; the last is the active one.
    pub segments: VecDeque<Segment>,
    /// The log start offset.
    pub log_start: u64,
    /// The log end offset: the next offset to be given (the high watermark: one broker).
    pub end: u64,
    /// The cleaner's checkpoint: records below it have been cleaned.
    pub clean_offset: u64,
    /// Idempotent producers' last batches, by producer id.
    pub producers: BTreeMap<u64, ProducerEntry>,
    /// How many records it holds.
    len: usize,
}

/// How many batches per producer the broker remembers (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
const BATCHES_TO_RETAIN: usize = 5;

impl PartitionLog {
    /// An empty log with one empty active segment at offset 0.
    pub fn new() -> PartitionLog {
        PartitionLog {
            segments: VecDeque::from([Segment::new(0)]),
            ..PartitionLog::default()
        }
    }

    /// The partition's size in bytes.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every record, by offset.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.segments.iter().flat_map(|s| s.records.iter())
    }

    /// The records at or after `offset`, by offset.
    pub fn records_from(&self, offset: u64) -> impl Iterator<Item = &Record> {
        // The segment holding `offset`: the last whose base is at or below it.
        let i = self
            .segments
            .partition_point(|s| s.base <= offset)
            .saturating_sub(1);
        let first = &self.segments[i];
        let j = first.records.partition_point(|r| r.offset < offset);
        first.records[j..]
            .iter()
            .chain(self.segments.range(i + 1..).flat_map(|s| s.records.iter()))
    }

    /// True if a record at or after `offset` exists.
    pub fn has_from(&self, offset: u64) -> bool {
        self.records_from(offset).next().is_some()
    }

    /// The newest `n` records, oldest first.
    pub fn tail(&self, n: usize) -> Vec<&Record> {
        let mut out: Vec<&Record> = Vec::with_capacity(n);
        for s in self.segments.iter().rev() {
            for r in s.records.iter().rev() {
                if out.len() == n {
                    out.reverse();
                    return out;
                }
                out.push(r);
            }
        }
        out.reverse();
        out
    }

    /// Checks an idempotent batch's sequence numbers against what the log has seen of
    /// `producer_id` (`ProducerStateEntry.findDuplicateBatch`, `checkSequence`).
    pub fn check_sequence(&self, producer_id: u64, first_seq: u32, last_seq: u32) -> Sequence {
        let Some(entry) = self.producers.get(&producer_id) else {
            return if first_seq == 0 {
                Sequence::InOrder
            } else {
                Sequence::OutOfOrder
            };
        };
        if let Some(&(_, _, base)) = entry
            .batches
            .iter()
            .find(|&&(f, l, _)| f == first_seq && l == last_seq)
        {
            return Sequence::Duplicate(base);
        }
        match entry.batches.back() {
            Some(&(_, last, _)) if first_seq == last.wrapping_add(1) => Sequence::InOrder,
            None if first_seq == 0 => Sequence::InOrder,
            _ => Sequence::OutOfOrder,
        }
    }

    /// Remembers an appended idempotent batch.
    pub fn record_batch(&mut self, producer_id: u64, first_seq: u32, last_seq: u32, base: u64) {
        let e = self.producers.entry(producer_id).or_default();
        e.batches.push_back((first_seq, last_seq, base));
        if e.batches.len() > BATCHES_TO_RETAIN {
            e.batches.pop_front();
        }
    }

    /// Rolls a new segment first if the active one cannot take `bytes` more, or its first
    /// record is older than `segment.ms` (`LogSegment.shouldRoll`). Returns the new
    /// segment's base offset if it rolled.
    pub fn maybe_roll(&mut self, bytes: u64, now: SimTime, cfg: &TopicConfig) -> Option<u64> {
        let active = self.segments.back().expect("a log has an active segment");
        let full = active.bytes > cfg.segment_bytes.saturating_sub(bytes);
        let old = active
            .first_ts
            .is_some_and(|t| now.saturating_since(t) > SimDuration::from_ms(cfg.segment_ms));
        if !active.records.is_empty() && (full || old) {
            self.roll();
            Some(self.end)
        } else {
            None
        }
    }

    /// Starts a new active segment at the log end offset.
    ///
    /// The new segment reserves room for as many records as the last one held (and a little
    /// more): segments roll at the same size, so it rarely grows by copying itself, which for
    /// megabytes of records costs more than everything else an append does.
    pub fn roll(&mut self) {
        let mut next = Segment::new(self.end);
        if let Some(active) = self.segments.back_mut() {
            let n = active.records.len();
            // The segment being closed keeps only the room it uses, unless that is most of it.
            if active.records.capacity() > n + n / 4 {
                active.records.shrink_to_fit();
            }
            next.records.reserve_exact(n + n / 16 + 1);
        }
        self.segments.push_back(next);
    }

    /// Appends a record at the log end offset; returns its offset.
    pub fn append(
        &mut self,
        key: Option<KeyId>,
        tombstone: bool,
        bytes: u32,
        timestamp: SimTime,
        msg: Envelope,
    ) -> u64 {
        let offset = self.end;
        self.end += 1;
        self.len += 1;
        let seg = self.segments.back_mut().expect("an active segment");
        seg.bytes += u64::from(bytes);
        seg.first_ts.get_or_insert(timestamp);
        seg.max_ts = seg.max_ts.max(timestamp);
        seg.records.push(Record {
            offset,
            key,
            tombstone,
            bytes,
            timestamp,
            horizon: None,
            msg,
        });
        offset
    }

    /// Deletes the segments that `retention.ms`, then `retention.bytes`, say are past
    /// retention, oldest first, stopping at the first that is not
    /// (`UnifiedLog.deleteOldSegments`). If every segment goes, a new active segment is rolled
    /// first, so the log start moves to the log end.
    pub fn apply_retention(&mut self, now: SimTime, cfg: &TopicConfig) -> Vec<Deleted> {
        let mut out = Vec::new();
        if cfg.retention_ms >= 0 {
            let limit = SimDuration::from_ms(cfg.retention_ms as u64);
            let n = self.deletable(|s| now.saturating_since(s.max_ts) > limit);
            self.delete_front(n, RetentionCause::Time, &mut out);
        }
        if cfg.retention_bytes >= 0 {
            let size = self.size();
            let retention = cfg.retention_bytes as u64;
            if size >= retention {
                let mut diff = size - retention;
                let n = self.deletable(|s| {
                    if diff >= s.bytes {
                        diff -= s.bytes;
                        true
                    } else {
                        false
                    }
                });
                self.delete_front(n, RetentionCause::Size, &mut out);
            }
        }
        out
    }

    /// How many segments from the front `pred` finds deletable (`UnifiedLog.deletableSegments`:
    /// an empty active segment is never deleted).
    fn deletable(&self, mut pred: impl FnMut(&Segment) -> bool) -> usize {
        let last = self.segments.len() - 1;
        let mut n = 0;
        for (i, s) in self.segments.iter().enumerate() {
            if i == last && s.records.is_empty() && s.bytes == 0 {
                break;
            }
            if !pred(s) {
                break;
            }
            n += 1;
        }
        n
    }

    fn delete_front(&mut self, n: usize, cause: RetentionCause, out: &mut Vec<Deleted>) {
        if n == 0 {
            return;
        }
        if n == self.segments.len() {
            self.roll();
        }
        for _ in 0..n {
            let seg = self.segments.pop_front().expect("counted");
            self.len -= seg.records.len();
            out.push(Deleted {
                base: seg.base,
                messages: seg.records.iter().map(|r| r.msg.id).collect(),
                cause,
            });
        }
        let start = self.segments.front().expect("one is left").base;
        self.log_start = self.log_start.max(start);
        self.clean_offset = self.clean_offset.max(self.log_start);
    }

    /// The end of the range the cleaner may touch: the active segment's base, or earlier the
    /// first segment with a record younger than `min.compaction.lag.ms`.
    pub fn first_uncleanable(&self, now: SimTime, cfg: &TopicConfig) -> u64 {
        let active = self.segments.back().expect("an active segment").base;
        let lag = SimDuration::from_ms(cfg.min_compaction_lag_ms);
        if cfg.min_compaction_lag_ms == 0 {
            return active;
        }
        self.segments
            .iter()
            .find(|s| !s.records.is_empty() && now.saturating_since(s.max_ts) < lag)
            .map_or(active, |s| s.base.min(active))
    }

    /// The dirty ratio: dirty bytes over cleanable bytes, below the first uncleanable offset.
    pub fn dirty_ratio(&self, uncleanable: u64) -> f64 {
        let (mut clean, mut dirty) = (0u64, 0u64);
        for r in self.records().take_while(|r| r.offset < uncleanable) {
            if r.offset < self.clean_offset {
                clean += u64::from(r.bytes);
            } else {
                dirty += u64::from(r.bytes);
            }
        }
        if clean + dirty == 0 {
            0.0
        } else {
            dirty as f64 / (clean + dirty) as f64
        }
    }

    /// Cleans the log if it is due: its dirty ratio has reached `min.cleanable.dirty.ratio`,
    /// or it holds a tombstone whose delete horizon has passed (KIP-534). Keeps a record in
    /// the cleanable range only if it is the latest for its key and is not a tombstone past
    /// its horizon (`LogCleaner.shouldRetainRecord`); a tombstone kept gets its horizon, now
    /// plus `delete.retention.ms`, the first time it is cleaned.
    pub fn clean(&mut self, now: SimTime, cfg: &TopicConfig) -> Option<Cleaned> {
        let to = self.first_uncleanable(now, cfg);
        let from = self.clean_offset.max(self.log_start);
        let ratio = self.dirty_ratio(to);
        let expired_tombstone = self
            .records()
            .take_while(|r| r.offset < to)
            .any(|r| r.tombstone && r.horizon.is_some_and(|h| now >= h));
        let has_dirty = to > from && self.records().any(|r| r.offset >= from && r.offset < to);
        if !((has_dirty && ratio >= cfg.min_cleanable_dirty_ratio) || expired_tombstone) {
            return None;
        }
        // The offset map: each key's latest offset in the dirty range.
        let mut latest: BTreeMap<KeyId, u64> = BTreeMap::new();
        for r in self.records().filter(|r| r.offset >= from && r.offset < to) {
            if let Some(k) = r.key {
                latest.insert(k, r.offset);
            }
        }
        let horizon = now + SimDuration::from_ms(cfg.delete_retention_ms);
        let mut removed = Vec::new();
        let mut tombstones_removed = 0;
        for seg in self.segments.iter_mut() {
            if seg.base >= to {
                break;
            }
            let before = seg.records.len();
            seg.records.retain_mut(|r| {
                if r.offset >= to {
                    return true;
                }
                let keep = match r.key {
                    // A record without a key cannot be compacted: the cleaner drops it.
                    None => false,
                    Some(k) => latest.get(&k).is_none_or(|&o| r.offset >= o),
                };
                let past_horizon = r.tombstone && r.horizon.is_some_and(|h| now >= h);
                if keep && !past_horizon {
                    if r.tombstone && r.horizon.is_none() {
                        r.horizon = Some(horizon);
                    }
                    true
                } else {
                    if past_horizon {
                        tombstones_removed += 1;
                    }
                    removed.push(r.msg.id);
                    false
                }
            });
            if seg.records.len() != before {
                seg.bytes = seg.records.iter().map(|r| u64::from(r.bytes)).sum();
            }
        }
        self.len -= removed.len();
        self.clean_offset = to;
        Some(Cleaned {
            from: self.log_start.min(from),
            to,
            removed,
            tombstones_removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageTemplate;

    fn msg(id: u64) -> Envelope {
        Envelope::from_template(MessageId(id), &MessageTemplate::default(), SimTime::ZERO)
    }

    fn cfg() -> TopicConfig {
        TopicConfig::default()
    }

    fn keys(log: &PartitionLog) -> Vec<(u64, Option<u32>, bool)> {
        log.records()
            .map(|r| (r.offset, r.key.map(|k| k.0), r.tombstone))
            .collect()
    }

    /// [CT-KAFKA-COMPACT-1]: `k1=a@0, k2=b@1, k1=c@2, k2=null@3, k3=d@4`, all in inactive
    /// segments, cleans to `k1=c@2, k2=null@3, k3=d@4`; after `delete.retention.ms` and a
    /// second cleaning, to `k1=c@2, k3=d@4`. Offsets never change.
    #[test]
    fn ct_kafka_compact_1() {
        let c = cfg();
        let mut log = PartitionLog::new();
        let t = SimTime::ZERO;
        for (i, (k, tomb)) in [(1, false), (2, false), (1, false), (2, true), (3, false)]
            .into_iter()
            .enumerate()
        {
            log.append(Some(KeyId(k)), tomb, 10, t, msg(i as u64));
        }
        log.roll(); // the whole log is now in an inactive segment
        let now = SimTime(1_000_000);
        let first = log.clean(now, &c).expect("all dirty: ratio 1");
        assert_eq!(first.removed, vec![MessageId(0), MessageId(1)]);
        assert_eq!(
            keys(&log),
            vec![(2, Some(1), false), (3, Some(2), true), (4, Some(3), false)]
        );
        // Nothing dirty and the tombstone's horizon not reached: no cleaning.
        let before = SimTime(now.0 + c.delete_retention_ms * 1000 - 1);
        assert_eq!(log.clean(before, &c), None);
        let after = now + SimDuration::from_ms(c.delete_retention_ms);
        let second = log.clean(after, &c).expect("a tombstone past its horizon");
        assert_eq!(second.removed, vec![MessageId(3)]);
        assert_eq!(second.tombstones_removed, 1);
        assert_eq!(keys(&log), vec![(2, Some(1), false), (4, Some(3), false)]);
        assert_eq!(log.log_start, 0, "compaction does not move the log start");
    }

    #[test]
    fn the_active_segment_is_never_compacted() {
        let c = cfg();
        let mut log = PartitionLog::new();
        for i in 0..4 {
            log.append(Some(KeyId(1)), false, 10, SimTime::ZERO, msg(i));
        }
        assert_eq!(log.clean(SimTime(1_000_000), &c), None);
        assert_eq!(log.len(), 4);
    }

    #[test]
    fn min_compaction_lag_holds_young_segments_back() {
        let c = TopicConfig {
            min_compaction_lag_ms: 10_000,
            ..cfg()
        };
        let mut log = PartitionLog::new();
        log.append(Some(KeyId(1)), false, 10, SimTime(0_000_000), msg(0));
        log.roll();
        log.append(Some(KeyId(1)), false, 10, SimTime(5_000_000), msg(1));
        log.roll();
        log.append(Some(KeyId(1)), false, 10, SimTime(6_000_000), msg(2));
        // At 12 s the second segment is 7 s old: only the first may be cleaned, and alone it
        // has nothing superseded within the cleanable range.
        let r = log.clean(SimTime(12_000_000), &c).expect("dirty");
        assert_eq!((r.from, r.to), (0, 1));
        assert!(r.removed.is_empty());
        assert_eq!(log.len(), 3);
    }

    #[test]
    fn size_retention_stays_at_or_above_the_limit() {
        // segments of 30, 30, 30 and an active 10 bytes: 100 bytes; retention.bytes 45 gives
        // diff 55: delete the first (diff 25), not the second (25 < 30).
        let c = TopicConfig {
            retention_bytes: 45,
            retention_ms: -1,
            ..cfg()
        };
        let mut log = PartitionLog::new();
        let mut id = 0;
        for seg in 0..4 {
            let n = if seg == 3 { 1 } else { 3 };
            for _ in 0..n {
                log.append(None, false, 10, SimTime::ZERO, msg(id));
                id += 1;
            }
            if seg < 3 {
                log.roll();
            }
        }
        let d = log.apply_retention(SimTime(1_000_000), &c);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].base, 0);
        assert_eq!(d[0].cause, RetentionCause::Size);
        assert_eq!(log.log_start, 3);
        assert_eq!(log.size(), 70);
    }

    #[test]
    fn time_retention_deletes_oldest_first_and_rolls_when_all_go() {
        let c = TopicConfig {
            retention_ms: 1000,
            ..cfg()
        };
        let mut log = PartitionLog::new();
        log.append(None, false, 10, SimTime(0_000_000), msg(0));
        log.roll();
        log.append(None, false, 10, SimTime(5_000_000), msg(1));
        // At 3 s only the first segment is older than 1 s.
        let d = log.apply_retention(SimTime(3_000_000), &c);
        assert_eq!(d.len(), 1);
        assert_eq!(log.log_start, 1);
        // At 10 s the active segment is too: it is rolled, then deleted.
        let d = log.apply_retention(SimTime(10_000_000), &c);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].messages, vec![MessageId(1)]);
        assert_eq!(log.log_start, 2);
        assert_eq!(log.end, 2);
        assert_eq!(log.segments.len(), 1);
        // An empty active segment is not deleted again.
        assert!(log.apply_retention(SimTime(20_000_000), &c).is_empty());
    }

    #[test]
    fn segments_roll_on_size_and_age() {
        let c = TopicConfig {
            segment_bytes: 25,
            segment_ms: 1000,
            ..cfg()
        };
        let mut log = PartitionLog::new();
        for i in 0..3 {
            assert_eq!(log.maybe_roll(10, SimTime::ZERO, &c), None);
            log.append(None, false, 10, SimTime::ZERO, msg(i));
            if i == 1 {
                // 20 bytes: a third record of 10 would pass 25.
                assert_eq!(log.maybe_roll(10, SimTime::ZERO, &c), Some(2));
                log.append(None, false, 10, SimTime::ZERO, msg(99));
                break;
            }
        }
        assert_eq!(log.maybe_roll(1, SimTime(1_001_000), &c), Some(3));
    }

    #[test]
    fn idempotent_sequences() {
        let mut log = PartitionLog::new();
        assert_eq!(log.check_sequence(7, 0, 2), Sequence::InOrder);
        log.record_batch(7, 0, 2, 0);
        assert_eq!(log.check_sequence(7, 0, 2), Sequence::Duplicate(0));
        assert_eq!(log.check_sequence(7, 3, 3), Sequence::InOrder);
        assert_eq!(log.check_sequence(7, 5, 6), Sequence::OutOfOrder);
        assert_eq!(log.check_sequence(8, 1, 1), Sequence::OutOfOrder);
    }
}
