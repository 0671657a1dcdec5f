//! Segment files. A segment is one writer's pair of append-only files on one
//! shard: `<id>.dat` (data) and `<id>.jnl` (extent journal). Both start with a
//! 4 KiB header (magic, version, container, shard, segment); data follows.
//!
//! A journal record is a 64-byte header plus one CRC-32C per 4 KiB chunk of
//! the extent's data:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `0x4A52_4543` |
//! | 4 | kind: 1 write, 2 punch |
//! | 8..16 | object (`o_id_lo`) |
//! | 16..24 | epoch |
//! | 24..32 | object offset |
//! | 32..40 | length |
//! | 40..48 | data offset in the segment's `.dat` |
//! | 48..56 | stamp: `counter << 20 \| slot`, unique in the store (see [`crate::store::slot`]); orders writes of one epoch: later wins |
//! | 56..60 | number of chunk checksums |
//! | 60..64 | CRC-32C of the record with this field zero |
//!
//! Replay stops at the first record that is incomplete or fails its checksum:
//! a torn tail was never published by a commit.

use crate::util::{crc32c, crc32c_append, Enc};

pub(crate) const HEADER: u64 = 4096;
pub(crate) const CHUNK: u64 = 4096;
pub(crate) const REC_HDR: usize = 64;
const REC_MAGIC: u32 = 0x4A52_4543;
const DAT_MAGIC: &[u8; 8] = b"DAOSRSDT";
const JNL_MAGIC: &[u8; 8] = b"DAOSRSJN";
const VERSION: u32 = 1;
pub(crate) const KIND_WRITE: u8 = 1;
pub(crate) const KIND_PUNCH: u8 = 2;
/// Largest extent one record describes (bigger writes become several records).
pub(crate) const MAX_REC_LEN: u64 = 1 << 28;

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: u8,
    pub oid: u64,
    pub epoch: u64,
    pub off: u64,
    pub len: u64,
    pub data_off: u64,
    pub stamp: u64,
    pub crcs: Vec<u32>,
}

/// Number of checksum chunks of an extent of `len` bytes.
pub fn nchunks(len: u64) -> u64 {
    len.div_ceil(CHUNK)
}

impl Record {
    pub fn size(&self) -> usize {
        REC_HDR + 4 * self.crcs.len()
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let mut e = Enc(std::mem::take(out));
        e.u32(REC_MAGIC).u8(self.kind).u8(0).u8(0).u8(0);
        e.u64(self.oid).u64(self.epoch).u64(self.off).u64(self.len).u64(self.data_off).u64(self.stamp);
        e.u32(self.crcs.len() as u32).u32(0);
        for c in &self.crcs {
            e.u32(*c);
        }
        *out = e.0;
        let crc = crc32c(&out[start..]);
        out[start + 60..start + 64].copy_from_slice(&crc.to_le_bytes());
    }

    /// Decodes the record at the start of `b`; `None` if incomplete or
    /// damaged. The chunk checksums are left as their raw little-endian bytes
    /// (`crcs` of the record is empty): replay copies them straight into the
    /// index.
    pub fn decode_view(b: &[u8]) -> Option<(Record, &[u8], usize)> {
        if b.len() < REC_HDR {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        if u32_at(0) != REC_MAGIC {
            return None;
        }
        let n = u32_at(56) as usize;
        let size = REC_HDR.checked_add(n.checked_mul(4)?)?;
        if b.len() < size {
            return None;
        }
        let mut c = crc32c(&b[..60]);
        c = crc32c_append(c, &[0; 4]);
        c = crc32c_append(c, &b[REC_HDR..size]);
        if c != u32_at(60) {
            return None;
        }
        let r = Record {
            kind: b[4],
            oid: u64_at(8),
            epoch: u64_at(16),
            off: u64_at(24),
            len: u64_at(32),
            data_off: u64_at(40),
            stamp: u64_at(48),
            crcs: Vec::new(),
        };
        let sane = match r.kind {
            KIND_WRITE => r.len > 0 && r.len <= MAX_REC_LEN && n as u64 == nchunks(r.len),
            KIND_PUNCH => n == 0 && r.len > 0,
            _ => false,
        };
        (sane && r.off.checked_add(r.len).is_some()).then_some((r, &b[REC_HDR..size], size))
    }
}

/// The 4 KiB header of a segment file.
pub fn file_header(data: bool, uuid: [u64; 2], shard: u32, seg: u64) -> Vec<u8> {
    let mut e = Enc::default();
    e.0.extend_from_slice(if data { DAT_MAGIC } else { JNL_MAGIC });
    e.u32(VERSION).u64(uuid[0]).u64(uuid[1]).u32(shard).u64(seg);
    let crc = crc32c(&e.0);
    e.u32(crc);
    e.0.resize(HEADER as usize, 0);
    e.0
}

/// Whether `b` starts with a valid header for segment `seg` of `shard`. The
/// container named in it is the one that wrote the segment, which a snapshot
/// (sharing the file by a hard link) does not change, so it is not compared.
pub fn header_ok(b: &[u8], data: bool, shard: u32, seg: u64) -> bool {
    if b.len() < HEADER as usize {
        return false;
    }
    let uuid = [
        u64::from_le_bytes(b[12..20].try_into().unwrap()),
        u64::from_le_bytes(b[20..28].try_into().unwrap()),
    ];
    b[..HEADER as usize] == file_header(data, uuid, shard, seg)[..]
}

/// Chunk checksums of an extent fed as consecutive slices (no copy).
pub struct ChunkCrcs {
    out: Vec<u32>,
    cur: u32,
    filled: u64,
}

impl ChunkCrcs {
    pub fn new(len: u64) -> ChunkCrcs {
        ChunkCrcs { out: Vec::with_capacity(nchunks(len) as usize), cur: 0, filled: 0 }
    }

    pub fn feed(&mut self, mut p: &[u8]) {
        while !p.is_empty() {
            let take = ((CHUNK - self.filled) as usize).min(p.len());
            self.cur = crc32c_append(self.cur, &p[..take]);
            self.filled += take as u64;
            p = &p[take..];
            if self.filled == CHUNK {
                self.out.push(self.cur);
                self.cur = 0;
                self.filled = 0;
            }
        }
    }

    pub fn finish(mut self) -> Vec<u32> {
        if self.filled > 0 {
            self.out.push(self.cur);
        }
        self.out
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    impl Record {
        fn decode(b: &[u8]) -> Option<(Record, usize)> {
            let (mut r, crcs, n) = Record::decode_view(b)?;
            r.crcs = crcs.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            Some((r, n))
        }
    }

    fn chunk_crcs<'a>(parts: impl Iterator<Item = &'a [u8]>, len: u64) -> Vec<u32> {
        let mut c = ChunkCrcs::new(len);
        for p in parts {
            c.feed(p);
        }
        c.finish()
    }

    #[test]
    fn record_round_trip_and_torn_tails() {
        let r = Record { kind: KIND_WRITE, oid: 7, epoch: 3, off: 100, len: 5000, data_off: 4096, stamp: 9, crcs: vec![1, 2] };
        let mut b = Vec::new();
        r.encode_into(&mut b);
        assert_eq!(b.len(), r.size());
        assert_eq!(Record::decode(&b), Some((r.clone(), b.len())));
        assert_eq!(Record::decode(&b[..b.len() - 1]), None);
        let mut bad = b.clone();
        bad[20] ^= 1;
        assert_eq!(Record::decode(&bad), None);
        assert_eq!(Record::decode(&[0u8; 80]), None);
    }

    #[test]
    fn headers_check_magic_shard_segment_and_checksum() {
        let h = file_header(false, [1, 2], 3, 4);
        assert!(header_ok(&h, false, 3, 4));
        assert!(!header_ok(&h, true, 3, 4));
        assert!(!header_ok(&h, false, 9, 4));
        assert!(!header_ok(&h, false, 3, 5));
        let mut bad = h.clone();
        bad[14] ^= 1;
        assert!(!header_ok(&bad, false, 3, 4), "the header checksum covers the container id");
    }

    #[test]
    fn chunk_crcs_do_not_depend_on_fragmentation() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let whole = chunk_crcs(std::iter::once(&data[..]), data.len() as u64);
        let split = chunk_crcs([&data[..1], &data[1..4097], &data[4097..]].into_iter(), data.len() as u64);
        assert_eq!(whole, split);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0], crc32c(&data[..4096]));
    }
}
