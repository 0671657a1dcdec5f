//! Failpoints: injected I/O faults for tests (cargo feature `failpoints`,
//! off by default: without it [`hit`] is an inlined `None` and the release
//! library holds none of this).
//!
//! `DAOS_RS_FAILPOINTS="name=kind[:count],..."` arms them; it is read again
//! at every hit (a test changes it between calls, when no library thread is
//! doing I/O), and a changed value starts afresh. `kind` is `enospc`, `eio`
//! or `short` (a short write; an fsync fails with -EIO instead); `count`
//! fails that many hits, then the failpoint passes (default: every hit).
//! Names (where the library calls [`hit`]):
//!
//! | name | where |
//! |------|-------|
//! | `data_write` | an object write's data, to a segment's `.dat` |
//! | `journal_append` | an object write's journal records, to its `.jnl` |
//! | `fsync` | the fsync of a segment file at commit or flush |
//! | `meta_write` | writing a metadata file (the container file...) before its rename, or a record to a container file's log |
//! | `rename` | the rename that makes such a file current, or the flush of such a record |
//!
//! (The library allocates no space ahead, so there is no fallocate point.)

/// What a failpoint makes a call do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub enum Fault {
    NoSpace,
    Eio,
    Short,
}

impl Fault {
    /// The errno the failed call reports (a short write: -ENOSPC, what a
    /// short write of a full device means).
    pub fn errno(self) -> i32 {
        match self {
            Fault::NoSpace | Fault::Short => libc::ENOSPC,
            Fault::Eio => libc::EIO,
        }
    }

    /// As an I/O error of `what`.
    pub fn error(self, what: &str) -> crate::error::Error {
        crate::error::Error::Os { errno: self.errno(), msg: format!("{what}: injected fault ({self:?}, failpoints)") }
    }
}

/// The fault armed at failpoint `name`, if any (and counts the hit).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) -> Option<Fault> {
    None
}

#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> Option<Fault> {
    imp::hit(name)
}

#[cfg(feature = "failpoints")]
mod imp {
    use super::Fault;
    use parking_lot::Mutex;

    struct Armed {
        name: String,
        fault: Fault,
        left: Option<u64>,
    }

    static STATE: Mutex<(String, Vec<Armed>)> = Mutex::new((String::new(), Vec::new()));

    fn parse(v: &str) -> Vec<Armed> {
        let mut out = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, rest)) = item.split_once('=') else {
                crate::log!(Warn, "DAOS_RS_FAILPOINTS: {item:?} is not name=kind[:count]");
                continue;
            };
            let (kind, count) = match rest.split_once(':') {
                Some((k, c)) => (k, c.parse::<u64>().ok()),
                None => (rest, None),
            };
            let fault = match kind {
                "enospc" => Fault::NoSpace,
                "eio" => Fault::Eio,
                "short" => Fault::Short,
                _ => {
                    crate::log!(Warn, "DAOS_RS_FAILPOINTS: unknown kind {kind:?} (enospc, eio, short)");
                    continue;
                }
            };
            out.push(Armed { name: name.to_string(), fault, left: count });
        }
        out
    }

    pub fn hit(name: &str) -> Option<Fault> {
        let v = std::env::var("DAOS_RS_FAILPOINTS").unwrap_or_default();
        let mut st = STATE.lock();
        if st.0 != v {
            *st = (v.clone(), parse(&v));
        }
        let a = st.1.iter_mut().find(|a| a.name == name)?;
        match &mut a.left {
            Some(0) => None,
            Some(n) => {
                *n -= 1;
                Some(a.fault)
            }
            None => Some(a.fault),
        }
    }
}
