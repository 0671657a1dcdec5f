//! The in-memory extent index of a shard: per object, its extents keyed by
//! object offset and insertion stamp, each with its epoch, so that a read at
//! epoch e resolves every byte to the newest visible extent with epoch <= e
//! (later stamp wins within an epoch). Punches are extents without data.

use std::collections::{BTreeMap, HashMap};

use smallvec::SmallVec;

/// `Ext::seg` of a punch.
pub(crate) const NO_SEG: u32 = u32::MAX;
/// `Ext::seg` of an extent whose journal record is damaged (its header is
/// sound, its chunk checksums are not): a read that resolves to it fails
/// with -EIO. `data_off` is the index of the segment whose journal holds it.
pub(crate) const BAD_SEG: u32 = u32::MAX - 1;
/// `Ext::owner` of published (committed or sealed) data.
pub(crate) const PUBLISHED: u32 = 0;
/// Extents longer than this (punches to the end) are kept aside, so that the
/// overlap search stays bounded by the longest ordinary extent.
const HUGE: u64 = 1 << 40;

/// One extent: 40 bytes, plus its 16-byte key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ext {
    pub len: u64,
    pub epoch: u64,
    /// Offset of the data in the segment's data file; for a punch, the index
    /// of the segment whose journal holds it (so compaction can carry it).
    pub data_off: u64,
    /// Index of the segment in the shard's segment table, or `NO_SEG` (punch).
    pub seg: u32,
    /// Index of the first chunk checksum in the shard's checksum arena.
    pub csum: u32,
    /// `PUBLISHED`, or the writer (open handle of this process) that staged it.
    pub owner: u32,
}

/// A resolved piece of a read: `len` bytes at object offset `off`, from an
/// extent (which starts at `ext_off`) or zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub off: u64,
    pub len: u64,
    pub src: Option<(u64, Ext)>,
}

#[derive(Default)]
struct Obj {
    map: BTreeMap<(u64, u64), Ext>,
    max_len: u64,
    huge: Vec<(u64, u64)>,
}

impl Obj {
    fn overlapping(&self, a: u64, b: u64) -> impl Iterator<Item = ((u64, u64), &Ext)> + '_ {
        let normal = self
            .map
            .range(..(b, 0))
            .rev()
            .take_while(move |((s, _), _)| s.saturating_add(self.max_len) > a)
            .filter(move |((s, _), e)| s + e.len > a)
            .map(|(k, e)| (*k, e));
        let huge = self
            .huge
            .iter()
            .filter_map(move |k| self.map.get(k).map(|e| (*k, e)))
            .filter(move |((s, _), e)| *s < b && s.saturating_add(e.len) > a);
        normal.chain(huge)
    }
}

/// An extent with its key (offset, stamp).
type Keyed = ((u64, u64), Ext);

/// Extents gathered for [`Index::insert_batch`] (a replay).
#[derive(Default)]
pub struct Batch(HashMap<u64, Vec<Keyed>>);

impl Batch {
    pub fn push(&mut self, oid: u64, off: u64, stamp: u64, e: Ext) {
        self.0.entry(oid).or_default().push(((off, stamp), e));
    }
}

/// The index of one shard.
#[derive(Default)]
pub struct Index {
    objs: HashMap<u64, Obj>,
    crcs: Vec<u32>,
    count: usize,
}

impl Index {
    /// Number of extents.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }


    /// Stores chunk checksums; returns the index of the first.
    pub fn add_crcs(&mut self, c: &[u32]) -> u32 {
        let i = self.crcs.len() as u32;
        self.crcs.extend_from_slice(c);
        i
    }

    /// Stores chunk checksums given as little-endian bytes.
    pub fn add_crc_bytes(&mut self, b: &[u8]) -> u32 {
        let i = self.crcs.len() as u32;
        self.crcs.extend(b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        i
    }

    pub fn crc(&self, i: u64) -> u32 {
        self.crcs[i as usize]
    }

    pub fn insert(&mut self, oid: u64, off: u64, stamp: u64, e: Ext) {
        let o = self.objs.entry(oid).or_default();
        if e.len > HUGE {
            o.huge.push((off, stamp));
        } else {
            o.max_len = o.max_len.max(e.len);
        }
        if o.map.insert((off, stamp), e).is_none() {
            self.count += 1;
        }
    }

    /// Inserts many extents at once. An object not yet in the index gets its
    /// tree built from the sorted extents in one pass, which packs the nodes
    /// full (about half the memory of one-by-one inserts).
    pub fn insert_batch(&mut self, batch: Batch) {
        for (oid, mut v) in batch.0 {
            if self.objs.contains_key(&oid) {
                for ((off, stamp), e) in v {
                    self.insert(oid, off, stamp, e);
                }
                continue;
            }
            v.sort_unstable_by_key(|x| x.0);
            v.dedup_by_key(|x| x.0);
            let mut o = Obj::default();
            for ((off, stamp), e) in &v {
                if e.len > HUGE {
                    o.huge.push((*off, *stamp));
                } else {
                    o.max_len = o.max_len.max(e.len);
                }
            }
            self.count += v.len();
            o.map = v.into_iter().collect();
            self.objs.insert(oid, o);
        }
    }

    /// Changes the extents of `oid` with the given keys (offset, stamp): `f`
    /// returns the new value, or `None` to remove the extent.
    pub fn update_keys(&mut self, oid: u64, keys: &[(u64, u64)], mut f: impl FnMut(&Ext) -> Option<Ext>) {
        let Some(o) = self.objs.get_mut(&oid) else { return };
        let mut removed = 0;
        for k in keys {
            let Some(e) = o.map.get_mut(k) else { continue };
            match f(e) {
                Some(n) => *e = n,
                None => {
                    o.map.remove(k);
                    o.huge.retain(|h| h != k);
                    removed += 1;
                }
            }
        }
        self.count -= removed;
        if o.map.is_empty() {
            self.objs.remove(&oid);
        }
    }

    /// Object ids with any extent.
    pub fn oids(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.objs.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Resolves `[a, b)` of `oid` into pieces covering it in order, using the
    /// newest extent for which `vis` holds (by epoch, then stamp).
    pub fn resolve(&self, oid: u64, a: u64, b: u64, vis: impl Fn(&Ext) -> bool) -> Vec<Piece> {
        let mut out = SmallVec::new();
        self.resolve_into(oid, a, b, vis, &mut out);
        out.to_vec()
    }

    /// [`Index::resolve`] into `out` (appended). The common case, one extent
    /// newer than everything else that covers the whole range, allocates
    /// nothing.
    pub fn resolve_into(&self, oid: u64, a: u64, b: u64, vis: impl Fn(&Ext) -> bool, out: &mut SmallVec<[Piece; 1]>) {
        if a >= b {
            return;
        }
        let Some(o) = self.objs.get(&oid) else {
            out.push(Piece { off: a, len: b - a, src: None });
            return;
        };
        // Fast path: the newest visible overlapping extent covers [a, b).
        let mut best: Option<((u64, u64), Ext)> = None;
        for (k, e) in o.overlapping(a, b) {
            if vis(e) && best.as_ref().map_or(true, |(bk, be)| (e.epoch, k.1) > (be.epoch, bk.1)) {
                best = Some((k, *e));
            }
        }
        match best {
            None => {
                out.push(Piece { off: a, len: b - a, src: None });
                return;
            }
            Some(((s, _), e)) if s <= a && s.saturating_add(e.len) >= b => {
                out.push(Piece { off: a, len: b - a, src: (e.seg != NO_SEG).then_some((s, e)) });
                return;
            }
            _ => {}
        }
        let start = out.len();
        let mut cands: Vec<((u64, u64), Ext)> = o.overlapping(a, b).filter(|(_, e)| vis(e)).map(|(k, e)| (k, *e)).collect();
        cands.sort_unstable_by_key(|c| std::cmp::Reverse((c.1.epoch, c.0 .1)));
        let mut holes = vec![(a, b)];
        for ((s, _), e) in cands {
            if holes.is_empty() {
                break;
            }
            let end = s.saturating_add(e.len);
            let mut next = Vec::with_capacity(holes.len() + 1);
            for (ha, hb) in holes {
                let (x, y) = (ha.max(s), hb.min(end));
                if x >= y {
                    next.push((ha, hb));
                    continue;
                }
                out.push(Piece { off: x, len: y - x, src: (e.seg != NO_SEG).then_some((s, e)) });
                if ha < x {
                    next.push((ha, x));
                }
                if y < hb {
                    next.push((y, hb));
                }
            }
            holes = next;
        }
        for (x, y) in holes {
            out.push(Piece { off: x, len: y - x, src: None });
        }
        out[start..].sort_unstable_by_key(|p| p.off);
    }

    /// Bytes of data `oid` holds for `vis` (0: the object is empty).
    pub fn data_bytes(&self, oid: u64, vis: impl Fn(&Ext) -> bool) -> u64 {
        self.resolve(oid, 0, u64::MAX, vis).iter().filter(|p| p.src.is_some()).map(|p| p.len).sum()
    }

    /// Aggregation: removes published extents with epoch <= `upto` that no
    /// read at an epoch >= `upto`, or at a kept epoch, can see. Returns how
    /// many were removed.
    pub fn aggregate(&mut self, upto: u64, kept: &[u64], shard_hce: u64) -> usize {
        let mut bands: Vec<u64> = kept.iter().copied().filter(|&k| k < upto).collect();
        bands.push(upto);
        bands.sort_unstable();
        bands.dedup();
        let mut removed_total = 0;
        let oids: Vec<u64> = self.objs.keys().copied().collect();
        for oid in oids {
            let o = &self.objs[&oid];
            let mut old: Vec<((u64, u64), Ext)> = o
                .map
                .iter()
                .filter(|(_, e)| e.owner == PUBLISHED && e.epoch <= upto && e.epoch <= shard_hce)
                .map(|(k, e)| (*k, *e))
                .collect();
            old.sort_unstable_by_key(|c| std::cmp::Reverse((c.1.epoch, c.0 .1)));
            let band_of = |ep: u64| bands.iter().position(|&k| ep <= k).unwrap_or(bands.len());
            let mut dead = Vec::new();
            let mut covered: Vec<(u64, u64)> = Vec::new();
            let mut band = usize::MAX;
            for (k, e) in old {
                let b = band_of(e.epoch);
                if b != band {
                    band = b;
                    covered.clear();
                }
                let end = k.0.saturating_add(e.len);
                if is_covered(&covered, k.0, end) {
                    dead.push(k);
                } else {
                    add_interval(&mut covered, k.0, end);
                }
            }
            if dead.is_empty() {
                continue;
            }
            let o = self.objs.get_mut(&oid).unwrap();
            for k in &dead {
                o.map.remove(k);
            }
            o.huge.retain(|k| !dead.contains(k));
            removed_total += dead.len();
            if o.map.is_empty() {
                self.objs.remove(&oid);
            }
        }
        self.count -= removed_total;
        removed_total
    }

    /// Visits every extent.
    pub fn for_each(&self, mut f: impl FnMut(u64, u64, u64, &Ext)) {
        for (oid, o) in &self.objs {
            for ((off, stamp), e) in &o.map {
                f(*oid, *off, *stamp, e);
            }
        }
    }
}

fn is_covered(set: &[(u64, u64)], a: u64, b: u64) -> bool {
    let i = set.partition_point(|&(_, e)| e <= a);
    set.get(i).is_some_and(|&(s, e)| s <= a && e >= b)
}

fn add_interval(set: &mut Vec<(u64, u64)>, a: u64, b: u64) {
    let (mut a, mut b) = (a, b);
    let i = set.partition_point(|&(_, e)| e < a);
    let mut j = i;
    while j < set.len() && set[j].0 <= b {
        a = a.min(set[j].0);
        b = b.max(set[j].1);
        j += 1;
    }
    set.splice(i..j, std::iter::once((a, b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(len: u64, epoch: u64, seg: u32) -> Ext {
        Ext { len, epoch, data_off: 0, seg, csum: 0, owner: PUBLISHED }
    }

    #[test]
    fn newest_visible_version_wins_per_byte() {
        let mut ix = Index::default();
        ix.insert(1, 0, 1, ext(100, 1, 0));
        ix.insert(1, 50, 2, ext(100, 2, 1));
        ix.insert(1, 60, 3, ext(10, 2, NO_SEG));
        let all = |_: &Ext| true;
        let p = ix.resolve(1, 0, 200, all);
        let spans: Vec<(u64, u64, Option<u32>)> = p.iter().map(|p| (p.off, p.len, p.src.map(|s| s.1.seg))).collect();
        assert_eq!(spans, vec![(0, 50, Some(0)), (50, 10, Some(1)), (60, 10, None), (70, 80, Some(1)), (150, 50, None)]);
        let e1 = |e: &Ext| e.epoch <= 1;
        let p = ix.resolve(1, 40, 120, e1);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].off, p[0].len, p[1].src), (40, 60, None));
        assert_eq!(ix.data_bytes(1, all), 140);
        assert_eq!(ix.data_bytes(9, all), 0);
    }

    #[test]
    fn huge_punch_and_same_epoch_order() {
        let mut ix = Index::default();
        ix.insert(1, 1000, 1, ext(10, 5, 0));
        ix.insert(1, 0, 2, ext(u64::MAX - 1, 5, NO_SEG));
        ix.insert(1, 1005, 3, ext(10, 5, 0));
        let p = ix.resolve(1, 1000, 1020, |_| true);
        let spans: Vec<(u64, u64, bool)> = p.iter().map(|p| (p.off, p.len, p.src.is_some())).collect();
        assert_eq!(spans, vec![(1000, 5, false), (1005, 10, true), (1015, 5, false)]);
    }

    #[test]
    fn aggregation_drops_only_invisible_versions() {
        let mut ix = Index::default();
        ix.insert(1, 0, 1, ext(100, 1, 0));
        ix.insert(1, 0, 2, ext(100, 2, 0));
        ix.insert(1, 0, 3, ext(50, 3, 0));
        ix.insert(1, 0, 4, ext(100, 4, 0));
        // Kept epoch 1 keeps version 1; version 3 is covered by 4 within (3, 5].
        assert_eq!(ix.aggregate(5, &[1], 10), 2);
        assert_eq!(ix.len(), 2);
        let p = ix.resolve(1, 0, 100, |e| e.epoch <= 1);
        assert_eq!(p[0].src.unwrap().1.epoch, 1);
    }
}
