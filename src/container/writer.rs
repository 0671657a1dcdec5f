//! What a writing handle has on each shard: its segments, where the next
//! data and journal bytes go, and which journal bytes have been written.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::shard::journal::HEADER;
use crate::shard::SegFile;

/// Where a segment's data starts in its `.dat` file: 2 MiB, leaving a hole
/// after the 4 KiB header, so that data is aligned in the file the way the
/// page cache likes it (large folios for large writes). The hole costs no space.
pub(crate) const DATA_START: u64 = 2 << 20;

/// One segment of a writer.
pub struct WSeg {
    pub idx: u32,
    pub file: Arc<SegFile>,
    pub data_end: u64,
    pub jnl_end: u64,
    /// Journal bytes `[HEADER, done)` are all written.
    pub done: u64,
    /// Completed journal writes beyond `done`: start -> end.
    ahead: BTreeMap<u64, u64>,
    /// A write failed: nothing more is appended here.
    pub broken: bool,
    /// Big enough, and its old versions no longer read: nothing more is
    /// appended here; it is sealed at a commit once all it holds is
    /// published (see `epoch::retire_segments`).
    pub retiring: bool,
    /// The first epoch a commit published records of it in (0: none yet).
    pub first_commit: u64,
}

impl WSeg {
    pub fn new(idx: u32, file: Arc<SegFile>) -> WSeg {
        WSeg { idx, file, data_end: DATA_START, jnl_end: HEADER, done: HEADER, ahead: BTreeMap::new(), broken: false, retiring: false, first_commit: 0 }
    }

    /// Journal bytes `[s, e)` were written (`ok`) or failed.
    pub fn journal_done(&mut self, s: u64, e: u64, ok: bool) {
        if !ok {
            self.broken = true;
            return;
        }
        self.ahead.insert(s, e);
        while let Some(e) = self.ahead.remove(&self.done) {
            self.done = e;
        }
    }
}

/// A staged extent of a writer, to publish at commit or drop at abort/close.
#[derive(Debug, Clone, Copy)]
pub struct Staged {
    pub shard: u32,
    pub oid: u64,
    pub off: u64,
    pub stamp: u64,
    pub epoch: u64,
    pub seg: u64,
    /// End of its journal record.
    pub jnl_end: u64,
}

/// A writer's segments per shard (the last one of each is the active one).
#[derive(Default)]
pub struct Writer {
    pub shards: BTreeMap<u32, Vec<WSeg>>,
    pub staged: Vec<Staged>,
}

impl Writer {
    /// The segment with id `seg` on `shard`.
    pub fn seg_mut(&mut self, shard: u32, seg: u64) -> Option<&mut WSeg> {
        self.shards.get_mut(&shard)?.iter_mut().find(|w| w.file.id == seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_watermark_advances_only_over_contiguous_writes() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let g = std::fs::File::open("/dev/null").unwrap();
        let mut w = WSeg::new(0, Arc::new(SegFile::new(1, f, crate::base::lock::Tracked::untracked(g), false, 2)));
        w.journal_done(HEADER + 100, HEADER + 200, true);
        assert_eq!(w.done, HEADER);
        w.journal_done(HEADER, HEADER + 100, true);
        assert_eq!(w.done, HEADER + 200);
        w.journal_done(HEADER + 200, HEADER + 300, false);
        assert!(w.broken);
        assert_eq!(w.done, HEADER + 200);
    }
}
