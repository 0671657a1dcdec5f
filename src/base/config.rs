//! Process-wide settings read from the environment: which I/O engine, how
//! many I/O threads, how many events an EQ may hold.

use std::sync::atomic::{AtomicU8, Ordering};

/// Which engine drives operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Uring,
    Threads,
}

const ENGINE_UNSET: u8 = 0;
const ENGINE_AUTO: u8 = 1;
const ENGINE_URING: u8 = 2;
const ENGINE_THREADS: u8 = 3;
static ENGINE: AtomicU8 = AtomicU8::new(ENGINE_UNSET);

fn engine_setting() -> u8 {
    let e = ENGINE.load(Ordering::Relaxed);
    if e != ENGINE_UNSET {
        return e;
    }
    let e = match std::env::var("DAOS_RS_IO_ENGINE").as_deref() {
        Ok("uring") => ENGINE_URING,
        Ok("threads") => ENGINE_THREADS,
        Ok("") | Ok("auto") | Err(_) => ENGINE_AUTO,
        Ok(other) => {
            crate::log!(Warn, "DAOS_RS_IO_ENGINE={other:?} is not uring|threads; choosing automatically");
            ENGINE_AUTO
        }
    };
    let _ = ENGINE.compare_exchange(ENGINE_UNSET, e, Ordering::Relaxed, Ordering::Relaxed);
    ENGINE.load(Ordering::Relaxed)
}

/// The engine to try: `(kind, forced)`. Not forced means a refused io_uring
/// falls back to the thread-pool engine.
pub fn engine_choice() -> (EngineKind, bool) {
    match engine_setting() {
        ENGINE_URING => (EngineKind::Uring, true),
        ENGINE_THREADS => (EngineKind::Threads, true),
        _ => (EngineKind::Uring, false),
    }
}

/// Records that io_uring was refused: every later EQ uses the thread-pool
/// engine. Says so once.
pub fn uring_refused(why: &std::io::Error) {
    if ENGINE
        .compare_exchange(ENGINE_AUTO, ENGINE_THREADS, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        crate::log!(Warn, "io_uring is not available ({why}); using the thread-pool engine");
    }
}

/// `DAOS_RS_IO_THREADS`: the most I/O worker threads of the thread-pool
/// engine (default: the number of CPUs, at least 2). Read once per process.
pub fn io_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        let auto = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        match std::env::var("DAOS_RS_IO_THREADS") {
            Ok(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => n,
                _ => {
                    crate::log!(Warn, "DAOS_RS_IO_THREADS={v:?} is not a number from 1 to 1024; using {auto}");
                    auto
                }
            },
            Err(_) => auto,
        }
    })
}

/// `DAOS_RS_EQ_MAX_EVENTS`, read when an EQ is created.
pub fn eq_max_events() -> usize {
    const DEFAULT: usize = 1 << 20;
    match std::env::var("DAOS_RS_EQ_MAX_EVENTS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                crate::log!(Warn, "DAOS_RS_EQ_MAX_EVENTS={v:?} is not a positive number; using {DEFAULT}");
                DEFAULT
            }
        },
        Err(_) => DEFAULT,
    }
}

/// `DAOS_RS_RETIRE_MIN`: the size (bytes, or with a `K`, `M` or `G` suffix)
/// past which a writer whose old versions are no longer read (it slipped
/// past its segment's first commit) seals its segment at a commit and
/// starts a new one, so that compaction can reclaim the sealed one's
/// overwritten data. Default 4 MiB. Read once per process.
pub fn retire_min() -> u64 {
    const DEFAULT: u64 = 4 << 20;
    static N: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *N.get_or_init(|| match std::env::var("DAOS_RS_RETIRE_MIN") {
        Ok(v) => match parse_size(&v).filter(|&n| n > 0) {
            Some(n) => n,
            None => {
                crate::log!(Warn, "DAOS_RS_RETIRE_MIN={v:?} is not a positive size (bytes, or with K, M or G); using 4M");
                DEFAULT
            }
        },
        Err(_) => DEFAULT,
    })
}

/// A size in bytes, or with a `K`, `M` or `G` suffix; None if it is not one.
fn parse_size(v: &str) -> Option<u64> {
    let t = v.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.trim().parse::<u64>().ok().and_then(|n| n.checked_mul(mul))
}

/// Largest metadata log area (`DAOS_RS_META_LOG`).
const META_LOG_MAX: u64 = 16 << 20;

/// `DAOS_RS_META_LOG`: the size of the log area a container file is written
/// with (bytes, or with a `K`, `M` or `G` suffix; at most 16M): a metadata
/// update (a commit) appends a record there and flushes it, instead of
/// replacing the file; when the area is full the file is replaced (a
/// checkpoint) with an empty one. `0` or `off`: every update replaces the
/// file. Default 32K. Read at every update (tests change it per process); a
/// bad value is reported once, at `warn`, and the default used.
pub fn meta_log() -> u64 {
    const DEFAULT: u64 = 32 << 10;
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    match std::env::var("DAOS_RS_META_LOG") {
        Ok(v) if v.trim() == "off" => 0,
        Ok(v) => match parse_size(&v).filter(|&n| n <= META_LOG_MAX) {
            Some(n) => n,
            None => {
                if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    crate::log!(Warn, "DAOS_RS_META_LOG={v:?} is not a size up to 16M (bytes, or with K, M or G) or off; using 32K");
                }
                DEFAULT
            }
        },
        Err(_) => DEFAULT,
    }
}

/// `DAOS_RS_MERGE`: `off` (or `0`) keeps every sealed segment as its writer
/// left it (no merging of segments of similar sizes; compaction of mostly
/// dead ones goes on), for tests and for looking at a container's files;
/// `on` (or `1`, the default) merges. Read once per process.
pub fn merge_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| match std::env::var("DAOS_RS_MERGE").as_deref() {
        Ok("off") | Ok("0") => false,
        Ok("on") | Ok("1") | Ok("") | Err(_) => true,
        Ok(v) => {
            crate::log!(Warn, "DAOS_RS_MERGE={v:?} is not on|off; merging");
            true
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_with_suffixes() {
        use super::parse_size;
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size(" 32K "), Some(32 << 10));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("0"), Some(0));
        for bad in ["", "K", "-1", "1.5M", "12Q", "99999999999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
