//! The message authentication code of the library's authenticated records.

/// SipHash-2-4 of `m` under the 128-bit key `k`: a keyed hash that serves as
/// a message authentication code (a forger without the key cannot produce a
/// matching value for a changed message). The `siphasher` crate computes it.
pub fn siphash24(k: [u64; 2], m: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher24::new_with_keys(k[0], k[1]);
    h.write(m);
    h.finish()
}

#[cfg(test)]
mod tests {

    #[test]
    fn siphash24_matches_the_reference_vector() {
        // Key 00..0f, message 00..0e: the test vector of the SipHash paper.
        let k = [u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]), u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15])];
        let m: Vec<u8> = (0..15).collect();
        assert_eq!(super::siphash24(k, &m), 0xa129_ca61_49be_45e5);
        assert_ne!(super::siphash24(k, &m[..14]), super::siphash24(k, &m));
    }
}
