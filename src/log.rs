//! One-line log messages on stderr, filtered by `DAOS_RS_LOG`.

use std::sync::atomic::{AtomicU8, Ordering};

/// Severity of a message; a message is printed when its level is at or below
/// the configured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

const UNSET: u8 = 0;
static LEVEL: AtomicU8 = AtomicU8::new(UNSET);

/// Parses a `DAOS_RS_LOG` value.
pub fn parse_level(s: &str) -> Option<Level> {
    match s.trim().to_ascii_lowercase().as_str() {
        "error" => Some(Level::Error),
        "warn" | "warning" => Some(Level::Warn),
        "info" => Some(Level::Info),
        "debug" => Some(Level::Debug),
        _ => None,
    }
}

fn level() -> u8 {
    let l = LEVEL.load(Ordering::Relaxed);
    if l != UNSET {
        return l;
    }
    let (lvl, bad) = match std::env::var("DAOS_RS_LOG") {
        Ok(v) => match parse_level(&v) {
            Some(l) => (l, None),
            None => (Level::Warn, Some(v)),
        },
        Err(_) => (Level::Warn, None),
    };
    LEVEL.store(lvl as u8, Ordering::Relaxed);
    if let Some(v) = bad {
        emit(Level::Warn, format_args!("DAOS_RS_LOG={v:?} is not error|warn|info|debug; using warn"));
    }
    lvl as u8
}

/// Whether a message of this level would be printed.
pub fn enabled(l: Level) -> bool {
    l as u8 <= level()
}

/// Prints one line `daos_rs[pid] LEVEL: message` on stderr, with a single write.
pub fn emit(l: Level, args: std::fmt::Arguments<'_>) {
    let tag = match l {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
    };
    let mut line = format!("daos_rs[{}] {tag}: {args}", std::process::id());
    line.retain(|c| c != '\n');
    line.push('\n');
    // One write(2) on descriptor 2, without the lock of Rust's stderr: a
    // child forked while another thread of its parent held that lock would
    // wait for it forever at its first message.
    let mut b = line.as_bytes();
    while !b.is_empty() {
        // SAFETY: writes bytes of a live buffer to descriptor 2.
        let n = unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
        if n > 0 {
            b = &b[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            break;
        }
    }
}

/// Logs one line at the given level: `log!(Warn, "x = {}", x)`.
#[macro_export]
macro_rules! log {
    ($lvl:ident, $($t:tt)*) => {
        if $crate::log::enabled($crate::log::Level::$lvl) {
            $crate::log::emit($crate::log::Level::$lvl, format_args!($($t)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels() {
        assert_eq!(parse_level("ERROR"), Some(Level::Error));
        assert_eq!(parse_level("warn"), Some(Level::Warn));
        assert_eq!(parse_level(" debug "), Some(Level::Debug));
        assert_eq!(parse_level("loud"), None);
        assert!(Level::Error < Level::Debug);
    }
}
