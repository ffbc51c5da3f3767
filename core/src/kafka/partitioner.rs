//! Kafka's default partitioner for keyed records (`KafkaProducer.partition()`,
//! `BuiltInPartitioner.partitionForKey`, `Utils.murmur2` and `Utils.toPositive`): murmur2 of the
//! key's bytes, made positive by masking the sign bit (not `abs`), modulo the topic's partition
//! count (all partitions, available or not). An empty key is a key, and is hashed.

/// Kafka's `Utils.murmur2`: MurmurHash2 with Kafka's seed, in 32-bit two's-complement
/// arithmetic over little-endian 4-byte blocks, as a signed `int`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let blocks = len / 4;
    for i in 0..blocks {
        let b = &data[i * 4..i * 4 + 4];
        let mut k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = &data[blocks * 4..];
    // Java's switch with fallthrough: case 3, then 2, then 1 (which multiplies).
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: the sign bit masked off (`toPositive(i32::MIN) == 0`).
pub fn to_positive(x: i32) -> u32 {
    (x as u32) & 0x7fff_ffff
}

/// The partition a record with `key` goes to among `partitions` (at least 1).
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    to_positive(murmur2(key)) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_utils_test_murmur2_vectors() {
        // `UtilsTest.testMurmur2` in Kafka's clients.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn ct_kafka_part_1_keys_to_partitions() {
        // (key, murmur2, toPositive, partition for n = 3, 6, 10, 12)
        let cases: [(&str, i32, u32, [u32; 4]); 6] = [
            ("", 275_646_681, 275_646_681, [0, 3, 1, 9]),
            ("a", -1_563_381_124, 584_102_524, [1, 4, 4, 4]),
            ("key1", 28_543_940, 28_543_940, [2, 2, 0, 8]),
            ("key2", 1_674_751_211, 1_674_751_211, [2, 5, 1, 11]),
            ("foobar", -790_332_482, 1_357_151_166, [0, 0, 6, 6]),
            ("abc", 479_470_107, 479_470_107, [0, 3, 7, 3]),
        ];
        for (key, hash, positive, parts) in cases {
            assert_eq!(murmur2(key.as_bytes()), hash, "murmur2({key:?})");
            assert_eq!(to_positive(hash), positive, "toPositive({hash})");
            for (n, want) in [3, 6, 10, 12].into_iter().zip(parts) {
                assert_eq!(
                    partition_for_key(key.as_bytes(), n),
                    want,
                    "{key:?} over {n}"
                );
            }
        }
    }

    #[test]
    fn to_positive_masks_the_sign_bit_rather_than_negating() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(5), 5);
    }
}
