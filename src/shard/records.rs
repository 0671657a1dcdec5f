//! The records of a container's metadata that a shard reads: its segments'
//! published journal lengths and seals, and the voided ranges of records.
//! The container's metadata (`container::meta`) holds lists of them; a shard
//! is given the lists, never the metadata.

/// One segment (a writer's data log + journal on one shard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegMeta {
    pub shard: u32,
    pub seg: u64,
    /// Journal bytes published by commits.
    pub committed_len: u64,
    /// Records with an epoch above this are void (the writer closed or died
    /// without committing them); `UNSEALED` while the writer is open.
    pub sealed: u64,
    /// The highest epoch its writer (or, for a peer, its master) committed:
    /// records above it are not committed, even once another writer's
    /// commit has moved HCE past them.
    pub upto: u64,
    /// The highest epoch of a record in the published range.
    pub max_pub: u64,
}

/// Records of `seg` at journal offsets in `[from, len)` with an epoch in
/// `[epoch, hi]` are void. An abort of epoch e voids `[0, len)` x `[e, MAX]`;
/// a commit that publishes records whose epoch another writer committed
/// meanwhile (so they can never be committed) voids them with `[0, old HCE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidMeta {
    pub shard: u32,
    pub seg: u64,
    pub from: u64,
    pub len: u64,
    pub epoch: u64,
    pub hi: u64,
}

impl VoidMeta {
    /// An abort of epochs >= `epoch` for the records before `len`.
    pub fn abort(shard: u32, seg: u64, len: u64, epoch: u64) -> VoidMeta {
        VoidMeta { shard, seg, from: 0, len, epoch, hi: u64::MAX }
    }

    /// Whether it voids a record at journal offset `at` with epoch `e`.
    #[inline]
    pub fn covers(&self, at: u64, e: u64) -> bool {
        self.from <= at && at < self.len && self.epoch <= e && e <= self.hi
    }
}
