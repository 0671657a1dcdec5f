//! The core's error type, mapped to a negative errno in one place.

use thiserror::Error;

/// Every failure the core can report. Each variant carries the line of
/// explanation that is logged when the error crosses the C boundary.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("invalid argument: {0}")]
    Inval(String),
    #[error("bad handle: {0}")]
    BadF(String),
    #[error("not found: {0}")]
    NoEnt(String),
    #[error("busy: {0}")]
    Busy(String),
    #[error("not permitted: {0}")]
    Perm(String),
    #[error("already: {0}")]
    Already(String),
    #[error("too many events: {0}")]
    MFile(String),
    #[error("out of memory: {0}")]
    NoMem(String),
    #[error("deadlock: {0}")]
    DeadLk(String),
    #[error("{msg} (errno {errno})")]
    Os { errno: i32, msg: String },
}

impl Error {
    /// The positive errno of this error.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Inval(_) => libc::EINVAL,
            Error::BadF(_) => libc::EBADF,
            Error::NoEnt(_) => libc::ENOENT,
            Error::Busy(_) => libc::EBUSY,
            Error::Perm(_) => libc::EPERM,
            Error::Already(_) => libc::EALREADY,
            Error::MFile(_) => libc::EMFILE,
            Error::NoMem(_) => libc::ENOMEM,
            Error::DeadLk(_) => libc::EDEADLK,
            Error::Os { errno, .. } => *errno,
        }
    }

    /// The value a C call returns for this error.
    pub fn to_rc(&self) -> i32 {
        -self.errno()
    }

    /// An error from the operating system, with what we were doing.
    pub fn os(err: std::io::Error, what: &str) -> Error {
        let errno = err.raw_os_error().unwrap_or(libc::EIO);
        Error::Os { errno, msg: format!("{what}: {err}") }
    }

    /// Errors that are ordinary flow control rather than bad input; they are
    /// logged at `info` instead of `warn`.
    pub fn is_flow(&self) -> bool {
        matches!(self, Error::Busy(_) | Error::Already(_))
    }
}

/// Result of the core.
pub type Result<T> = std::result::Result<T, Error>;

/// Builds an `Error::Inval` from a format string.
#[macro_export]
macro_rules! inval {
    ($($t:tt)*) => { $crate::error::Error::Inval(format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping_is_negative_and_specific() {
        assert_eq!(Error::Inval("x".into()).to_rc(), -libc::EINVAL);
        assert_eq!(Error::BadF("x".into()).to_rc(), -libc::EBADF);
        assert_eq!(Error::MFile("x".into()).to_rc(), -libc::EMFILE);
        let e = Error::os(std::io::Error::from_raw_os_error(libc::ENOSPC), "write");
        assert_eq!(e.to_rc(), -libc::ENOSPC);
        assert!(e.to_string().contains("write"));
    }
}
