//! Caller memory named by a `daos_mmd`: the one place that reads and writes
//! the caller's data buffers. The core sees it as a byte space of `total`
//! bytes (the fragments in order) and asks for ranges of it.

use smallvec::SmallVec;

/// The caller's memory fragments, in order.
pub struct UserMem {
    /// (address, length, start in the byte space) of each fragment.
    frags: SmallVec<[(usize, u64, u64); 1]>,
    total: u64,
}

// SAFETY: the memory belongs to the caller, who keeps it valid and does not
// touch it until the operation completes (SPEC §1 "Buffers"); the library
// uses it from whichever thread drives the operation, never concurrently.
unsafe impl Send for UserMem {}
unsafe impl Sync for UserMem {}

impl UserMem {
    /// # Safety
    /// Each `(ptr, len)` must be valid for reads and writes of `len` bytes
    /// until the operation using this memory has completed.
    pub unsafe fn from_raw(frags: impl IntoIterator<Item = (*mut u8, u64)>) -> UserMem {
        let mut total = 0u64;
        let frags = frags
            .into_iter()
            .map(|(p, l)| {
                total += l;
                (p as usize, l, total - l)
            })
            .collect();
        UserMem { frags, total }
    }

    /// Memory owned by the library (for tests): a single buffer.
    #[cfg(test)]
    ///
    /// # Safety
    /// `v` must stay alive, and not be used otherwise, until the operation
    /// using this memory has completed: the `UserMem` does not borrow it.
    pub unsafe fn from_vec(v: &mut [u8]) -> UserMem {
        // SAFETY: the slice is valid for its length; the caller keeps it
        // alive until the operation completes (this function's contract).
        unsafe { UserMem::from_raw(vec![(v.as_mut_ptr(), v.len() as u64)]) }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Calls `f` with each raw span covering `[off, off + len)`, in order.
    pub fn for_spans(&self, off: u64, len: u64, mut f: impl FnMut(*mut u8, u64)) {
        if len == 0 {
            return;
        }
        let end = off + len;
        let mut i = self.frags.partition_point(|&(_, _, s)| s <= off).saturating_sub(1);
        while i < self.frags.len() && self.frags[i].2 < end {
            let (p, l, s) = self.frags[i];
            let a = off.max(s);
            let b = end.min(s + l);
            if a < b {
                f((p + (a - s) as usize) as *mut u8, b - a);
            }
            i += 1;
        }
    }

    /// The raw spans covering `[off, off + len)`, in order.
    pub fn spans(&self, off: u64, len: u64) -> Vec<(*mut u8, u64)> {
        let mut out = Vec::new();
        self.for_spans(off, len, |p, l| out.push((p, l)));
        out
    }

    /// Calls `f` on the bytes of `[off, off + len)`, in order.
    pub fn visit(&self, off: u64, len: u64, mut f: impl FnMut(&[u8])) {
        self.for_spans(off, len, |p, l| {
            // SAFETY: `from_raw`'s contract: the span is valid caller memory
            // that nobody writes during the operation.
            f(unsafe { std::slice::from_raw_parts(p, l as usize) })
        });
    }

    /// Copies `src` into `[off, off + src.len())`.
    pub fn fill_from(&self, off: u64, src: &[u8]) {
        let mut pos = 0usize;
        self.for_spans(off, src.len() as u64, |p, l| {
            // SAFETY: as in `visit`, and the span lies inside the caller's fragment.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr().add(pos), p, l as usize) };
            pos += l as usize;
        });
    }

    /// Zeroes `[off, off + len)`.
    pub fn zero(&self, off: u64, len: u64) {
        self.for_spans(off, len, |p, l| {
            // SAFETY: as in `fill_from`.
            unsafe { std::ptr::write_bytes(p, 0, l as usize) };
        });
    }

    /// A copy of all the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.total as usize);
        self.visit(0, self.total, |b| v.extend_from_slice(b));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cross_fragments() {
        let mut a = [0u8; 4];
        let mut b = [0u8; 6];
        // SAFETY: both arrays outlive the UserMem.
        let m = unsafe { UserMem::from_raw(vec![(a.as_mut_ptr(), 4), (b.as_mut_ptr(), 6)]) };
        assert_eq!(m.total(), 10);
        assert_eq!(m.spans(2, 5).iter().map(|s| s.1).collect::<Vec<_>>(), vec![2, 3]);
        m.fill_from(2, b"xyzuv");
        let mut seen = Vec::new();
        m.visit(0, 10, |s| seen.extend_from_slice(s));
        assert_eq!(&seen, b"\0\0xyzuv\0\0\0");
        m.zero(3, 2);
        assert_eq!(m.to_vec(), b"\0\0x\0\0uv\0\0\0");
        drop(m);
        assert_eq!(&a, b"\0\0x\0");
    }
}
