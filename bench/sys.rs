//! Machine-side helpers of the benchmark: the scratch directory and its file
//! system, aligned buffers, random offsets, memory figures.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::{fs, io};

use crate::Result;

/// A directory of its own under the scratch directory, removed on drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(root: &Path, name: &str) -> Result<Scratch> {
        let path = root.join(format!("{name}-{}", std::process::id()));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| format!("remove {}: {e}", path.display()))?;
        }
        fs::create_dir_all(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        Ok(Scratch { path })
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("warning: could not remove {}: {e}", self.path.display());
        }
    }
}

pub fn cstring(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{} contains NUL", p.display()))
}

/// The file system type of `path`, by `statfs` magic: (name, magic).
pub fn fs_type(path: &Path) -> Result<(&'static str, i64)> {
    let c = cstring(path)?;
    // SAFETY: `statfs` is plain old data; zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a valid out-pointer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!(
            "statfs {}: {}",
            path.display(),
            io::Error::last_os_error()
        ));
    }
    let magic = st.f_type as i64;
    let name = match magic {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x2FC1_2FC1 => "zfs",
        _ => "unknown",
    };
    Ok((name, magic))
}

/// Resident set size of this process, bytes (0 if unknown).
pub fn vm_rss() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A zeroed, page-aligned buffer that never moves.
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

const PAGE: usize = 4096;

impl AlignedBuf {
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len.max(1), PAGE).expect("buffer layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory for a {len}-byte buffer");
        AlignedBuf { ptr, len }
    }

    /// Filled with a pattern that differs per byte and per `seed`.
    pub fn pattern(len: usize, seed: u64) -> AlignedBuf {
        let mut b = AlignedBuf::new(len);
        let mut r = Rng::new(seed);
        for c in b.as_mut_slice().chunks_mut(8) {
            let v = r.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        b
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The `i`-th `size`-byte piece.
    pub fn at(&self, i: usize, size: usize) -> *mut u8 {
        assert!((i + 1) * size <= self.len);
        // SAFETY: in bounds, checked above.
        unsafe { self.ptr.add(i * size) }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialised bytes while `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len.max(1), PAGE).expect("buffer layout");
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, layout) };
    }
}

/// xorshift64*: the same seed gives daos-rs and the raw baseline the same offsets.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A `block`-aligned offset of a block inside `[0, size)`.
    pub fn block(&mut self, size: u64, block: u64) -> u64 {
        (self.next() % (size / block)) * block
    }
}

/// Drops the page cache of a file (its dirty pages must already be written).
pub fn drop_cache(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    // SAFETY: plain system call on a descriptor we own.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(format!(
            "posix_fadvise {}: {}",
            path.display(),
            io::Error::from_raw_os_error(rc)
        ));
    }
    Ok(())
}

/// Every file under `dir` whose name ends with `suffix`.
pub fn find_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
