//! Segment files. A segment is one writer's pair of append-only files on one
//! shard: `<id>.dat` (data) and `<id>.jnl` (extent journal). Both start with a
//! 4 KiB header (magic, version, container, shard, segment, CRC-32C); data
//! follows. The data file is at version 1; the journal at version 2 (version
//! 1 journals, written before, are still read).
//!
//! A journal record is a 64-byte header plus one CRC-32C per 4 KiB chunk of
//! the extent's data (none for a punch):
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
//! | 56..60 | version 2: CRC-32C of the chunk checksums that follow; version 1: their number |
//! | 60..64 | version 2: CRC-32C of bytes 0..60; version 1: CRC-32C of the whole record with this field zero |
//!
//! A write of `len` bytes has `ceil(len / 4096)` chunk checksums.
//!
//! **Damage.** A record's header and its chunk checksums are checked
//! separately ([`parse`]): a record with a sound header whose chunk
//! checksums are damaged still says which extent it describes
//! ([`Parsed::BadCrcs`]: reads of that extent fail with -EIO); a record whose
//! header is damaged cannot be placed ([`Parsed::Damaged`]: the records after
//! it are found again by their magic and header checksum, and the shard
//! reads as -EIO, since the lost record may have been any of its extents).
//! Version 1 records have one checksum over everything, so any damage is of
//! the second kind. Replay reads only what commits published, so every record
//! it meets is committed: none is skipped silently. (A torn tail past the
//! published length was never published and is never read.)

use crate::base::checksum::{crc32c, crc32c_append};

use crate::base::codec::Enc;

pub(crate) const HEADER: u64 = 4096;
pub(crate) const CHUNK: u64 = 4096;
pub(crate) const REC_HDR: usize = 64;
const REC_MAGIC: u32 = 0x4A52_4543;
const DAT_MAGIC: &[u8; 8] = b"DAOSRSDT";
const JNL_MAGIC: &[u8; 8] = b"DAOSRSJN";
/// Version of the data files.
const DAT_VERSION: u32 = 1;
/// Version of the journals written now (records with a header checksum).
pub(crate) const JNL_VERSION: u32 = 2;
/// The first journal format (one checksum per record), still read.
pub(crate) const JNL_VERSION_1: u32 = 1;
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

/// What [`parse`] found at the start of a journal range.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A sound record, and its chunk checksums as raw little-endian bytes
    /// (the record's `crcs` is empty: replay copies them into the index).
    Ok(Record, &'a [u8]),
    /// A record whose header is sound but whose chunk checksums are damaged
    /// (or cut short): the extent is known, its data cannot be verified.
    BadCrcs(Record),
    /// Bytes that hold no record that can be placed (a damaged header).
    Damaged,
}

impl Record {
    pub fn size(&self) -> usize {
        REC_HDR + 4 * self.crcs.len()
    }

    /// Appends the record in the current format (version 2).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let mut e = Enc(std::mem::take(out));
        e.u32(REC_MAGIC).u8(self.kind).u8(0).u8(0).u8(0);
        e.u64(self.oid).u64(self.epoch).u64(self.off).u64(self.len).u64(self.data_off).u64(self.stamp);
        e.u32(0).u32(0);
        for c in &self.crcs {
            e.u32(*c);
        }
        *out = e.0;
        let body = crc32c(&out[start + REC_HDR..]);
        out[start + 56..start + 60].copy_from_slice(&body.to_le_bytes());
        let head = crc32c(&out[start..start + 60]);
        out[start + 60..start + 64].copy_from_slice(&head.to_le_bytes());
    }

    /// The header fields of a record at the start of `b` (at least 64 bytes).
    fn fields(b: &[u8]) -> Record {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        Record {
            kind: b[4],
            oid: u64_at(8),
            epoch: u64_at(16),
            off: u64_at(24),
            len: u64_at(32),
            data_off: u64_at(40),
            stamp: u64_at(48),
            crcs: Vec::new(),
        }
    }

    /// Number of chunk checksums a sound record of this kind and length has
    /// (`None`: no sound record looks like this).
    fn expected_crcs(&self) -> Option<usize> {
        if self.off.checked_add(self.len).is_none() || self.len == 0 {
            return None;
        }
        match self.kind {
            KIND_WRITE if self.len <= MAX_REC_LEN => Some(nchunks(self.len) as usize),
            KIND_PUNCH => Some(0),
            _ => None,
        }
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

/// The record at the start of `b` if its header is sound, with its size.
/// With `need_all`, the whole record must be in `b` (a candidate when
/// looking for the next record after damage); without, a sound header whose
/// checksums are cut short is [`Parsed::BadCrcs`].
fn try_at(b: &[u8], version: u32, need_all: bool) -> Option<(Parsed<'_>, usize)> {
    if b.len() < REC_HDR || u32_at(b, 0) != REC_MAGIC {
        return None;
    }
    if version == JNL_VERSION_1 {
        let n = u32_at(b, 56) as usize;
        let size = REC_HDR.checked_add(n.checked_mul(4)?)?;
        if b.len() < size {
            return None;
        }
        let mut c = crc32c(&b[..60]);
        c = crc32c_append(c, &[0; 4]);
        c = crc32c_append(c, &b[REC_HDR..size]);
        let r = Record::fields(b);
        if c != u32_at(b, 60) || r.expected_crcs() != Some(n) {
            return None;
        }
        return Some((Parsed::Ok(r, &b[REC_HDR..size]), size));
    }
    if crc32c(&b[..60]) != u32_at(b, 60) {
        return None;
    }
    let r = Record::fields(b);
    let size = REC_HDR + 4 * r.expected_crcs()?;
    if b.len() < size {
        return (!need_all).then_some((Parsed::BadCrcs(r), b.len()));
    }
    if crc32c(&b[REC_HDR..size]) != u32_at(b, 56) {
        return Some((Parsed::BadCrcs(r), size));
    }
    Some((Parsed::Ok(r, &b[REC_HDR..size]), size))
}

/// Parses the record at the start of `b`, a journal range that commits
/// published (so every byte of it belongs to a record), in journal format
/// `version`; returns what it found and how many bytes it spans, `None` at
/// the end of `b`. Damage spans up to the next sound record (found by its
/// magic and checksum, records being 4-byte aligned) or the end of `b`.
pub fn parse(b: &[u8], version: u32) -> Option<(Parsed<'_>, usize)> {
    if b.is_empty() {
        return None;
    }
    if let Some(x) = try_at(b, version, false) {
        return Some(x);
    }
    let mut p = 4;
    while p < b.len() && try_at(&b[p..], version, true).is_none() {
        p += 4;
    }
    Some((Parsed::Damaged, p.min(b.len())))
}

/// The 4 KiB header of a segment file (at the current version).
pub fn file_header(data: bool, uuid: [u64; 2], shard: u32, seg: u64) -> Vec<u8> {
    header_v(data, if data { DAT_VERSION } else { JNL_VERSION }, uuid, shard, seg)
}

fn header_v(data: bool, version: u32, uuid: [u64; 2], shard: u32, seg: u64) -> Vec<u8> {
    let mut e = Enc::default();
    e.0.extend_from_slice(if data { DAT_MAGIC } else { JNL_MAGIC });
    e.u32(version).u64(uuid[0]).u64(uuid[1]).u32(shard).u64(seg);
    let crc = crc32c(&e.0);
    e.u32(crc);
    e.0.resize(HEADER as usize, 0);
    e.0
}

/// The version of the segment file whose header starts `b`, if `b` starts
/// with a valid header for segment `seg` of `shard` at a version this
/// library reads. The container named in it is the one that wrote the
/// segment, which a snapshot (sharing the file by a hard link) does not
/// change, so it is not compared.
pub fn header_version(b: &[u8], data: bool, shard: u32, seg: u64) -> Option<u32> {
    if b.len() < HEADER as usize {
        return None;
    }
    let uuid = [
        u64::from_le_bytes(b[12..20].try_into().unwrap()),
        u64::from_le_bytes(b[20..28].try_into().unwrap()),
    ];
    let versions: &[u32] = if data { &[DAT_VERSION] } else { &[JNL_VERSION, JNL_VERSION_1] };
    versions.iter().copied().find(|&v| b[..HEADER as usize] == header_v(data, v, uuid, shard, seg)[..])
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
impl Record {
    /// The record in the first journal format (version 1), as journals
    /// written before version 2 hold it.
    pub(crate) fn encode_v1(&self, out: &mut Vec<u8>) {
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
}

/// A version 1 journal header (tests of the old format).
#[cfg(test)]
pub(crate) fn file_header_v1(uuid: [u64; 2], shard: u32, seg: u64) -> Vec<u8> {
    header_v(false, JNL_VERSION_1, uuid, shard, seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_crcs(p: Parsed<'_>) -> Option<Record> {
        match p {
            Parsed::Ok(mut r, crcs) => {
                r.crcs = crcs.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
                Some(r)
            }
            _ => None,
        }
    }

    fn chunk_crcs<'a>(parts: impl Iterator<Item = &'a [u8]>, len: u64) -> Vec<u32> {
        let mut c = ChunkCrcs::new(len);
        for p in parts {
            c.feed(p);
        }
        c.finish()
    }

    fn rec(off: u64, len: u64, stamp: u64) -> Record {
        let crcs = (0..nchunks(len) as u32).map(|i| 0x1000 + i).collect();
        Record { kind: KIND_WRITE, oid: 7, epoch: 3, off, len, data_off: 4096, stamp, crcs }
    }

    #[test]
    fn record_round_trip_in_both_versions() {
        let r = rec(100, 5000, 9);
        let mut b = Vec::new();
        r.encode_into(&mut b);
        assert_eq!(b.len(), r.size());
        let (p, n) = parse(&b, JNL_VERSION).unwrap();
        assert_eq!((with_crcs(p), n), (Some(r.clone()), b.len()));
        let mut v1 = Vec::new();
        r.encode_v1(&mut v1);
        let (p, n) = parse(&v1, JNL_VERSION_1).unwrap();
        assert_eq!((with_crcs(p), n), (Some(r.clone()), v1.len()));
        assert_eq!(parse(&[], JNL_VERSION), None);
        let punch = Record { kind: KIND_PUNCH, oid: 1, epoch: 2, off: 0, len: u64::MAX, data_off: 0, stamp: 5, crcs: vec![] };
        let mut b = Vec::new();
        punch.encode_into(&mut b);
        assert_eq!(with_crcs(parse(&b, JNL_VERSION).unwrap().0), Some(punch));
    }

    /// Every byte of a record damaged, in a journal of three: the record is
    /// either still placed (its header is sound: its checksums are damaged)
    /// or lost (damaged header), and in both cases the next record is found.
    #[test]
    fn damage_is_placed_or_spans_to_the_next_record() {
        let recs = [rec(0, 4096, 1), rec(8192, 9000, 2), rec(100, 1, 3)];
        let mut b = Vec::new();
        for r in &recs {
            r.encode_into(&mut b);
        }
        let (s0, s1) = (recs[0].size(), recs[1].size());
        for i in s0..s0 + s1 {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = b.clone();
                d[i] ^= x;
                let (p, n) = parse(&d[s0..], JNL_VERSION).unwrap();
                match p {
                    Parsed::BadCrcs(r) => {
                        assert!(i - s0 >= REC_HDR, "byte {i}: a damaged header is not sound");
                        assert_eq!(Record { crcs: vec![], ..r }, Record { crcs: vec![], ..recs[1].clone() });
                    }
                    Parsed::Damaged => assert!(i - s0 < REC_HDR, "byte {i}: damaged checksums keep the header"),
                    Parsed::Ok(..) => panic!("byte {i} ^ {x:#x} went unnoticed"),
                }
                assert_eq!(n, s1, "byte {i}: the next record is found");
                let next = with_crcs(parse(&d[s0 + n..], JNL_VERSION).unwrap().0);
                assert_eq!(next, Some(recs[2].clone()));
                // Version 1: any damage loses the record, the next is found.
                let mut v = Vec::new();
                for r in &recs {
                    r.encode_v1(&mut v);
                }
                v[i] ^= x;
                let (p, n) = parse(&v[s0..], JNL_VERSION_1).unwrap();
                assert_eq!((p, n), (Parsed::Damaged, s1), "v1 byte {i}");
            }
        }
        // Cut short: a sound header is still placed; garbage spans to the end.
        let (p, n) = parse(&b[s0..s0 + REC_HDR + 4], JNL_VERSION).unwrap();
        assert!(matches!(p, Parsed::BadCrcs(_)) && n == REC_HDR + 4);
        assert_eq!(parse(&[0u8; 80], JNL_VERSION), Some((Parsed::Damaged, 80)));
    }

    #[test]
    fn headers_check_magic_version_shard_segment_and_checksum() {
        let h = file_header(false, [1, 2], 3, 4);
        assert_eq!(header_version(&h, false, 3, 4), Some(JNL_VERSION));
        assert_eq!(header_version(&file_header_v1([1, 2], 3, 4), false, 3, 4), Some(JNL_VERSION_1));
        assert_eq!(header_version(&file_header(true, [1, 2], 3, 4), true, 3, 4), Some(1));
        assert_eq!(header_version(&h, true, 3, 4), None);
        assert_eq!(header_version(&h, false, 9, 4), None);
        assert_eq!(header_version(&h, false, 3, 5), None);
        let mut bad = h.clone();
        bad[14] ^= 1;
        assert_eq!(header_version(&bad, false, 3, 4), None, "the header checksum covers the container id");
        let mut bad = h.clone();
        bad[8] = 9;
        assert_eq!(header_version(&bad, false, 3, 4), None, "unknown version");
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
