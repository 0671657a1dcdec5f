//! The library's log: one-line messages filtered by `DAOS_RS_LOG`, written on
//! stderr, or handed to a sink the host installed (`set_sink`; the C
//! extension `daos_rs_set_log_callback` in `ffi::ext` installs one that calls
//! a C function, and the Python package one that feeds Python's `logging`).

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::Once;

/// Severity of a message; a message is logged when its level is at or below
/// the configured one. The values are the C API's `DAOS_RS_LOG_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    /// The lower-case name used in `DAOS_RS_LOG` and on stderr.
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
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

/// Whether a message of this level would be logged.
pub fn enabled(l: Level) -> bool {
    l as u8 <= level()
}

/// What receives the messages instead of stderr: called with each message's
/// level and text (one line, no newline), from whichever thread logs it, at
/// the same time from several threads, possibly while the logging thread
/// holds locks of the library.
pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

/// An installed sink and the number of threads inside it. Registrations are
/// never freed: a thread may still be between reading `CURRENT` and counting
/// itself in when the sink is replaced (it then backs out without calling).
struct Registration {
    sink: Sink,
    inside: AtomicUsize,
}

/// The sink in force, null for stderr.
static CURRENT: AtomicPtr<Registration> = AtomicPtr::new(ptr::null_mut());
/// Keeps two `set_sink` calls from waiting for each other's old sink.
static SETTING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
static ATFORK: Once = Once::new();

thread_local! {
    /// This thread is running the sink: what it logs goes to stderr (no
    /// recursion), and it may not replace the sink (it would wait for itself).
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// `set_sink` was called by the sink itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalledFromSink;

/// Counts this thread into the current sink, or `None` for stderr.
fn enter() -> Option<&'static Registration> {
    loop {
        let p = CURRENT.load(Ordering::SeqCst);
        // SAFETY: a non-null CURRENT points to a leaked Registration, never freed.
        let r = unsafe { p.as_ref() }?;
        r.inside.fetch_add(1, Ordering::SeqCst);
        // Still current after counting in: `set_sink` either waits for us or
        // has not swapped yet. Otherwise it may have found the count at zero
        // and returned: back out and use the new one.
        if CURRENT.load(Ordering::SeqCst) == p {
            return Some(r);
        }
        r.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// In a forked child only the forking thread lives on: threads of the parent
/// that were inside the sink will never leave it.
extern "C" fn after_fork_in_child() {
    // SAFETY: as in `enter`.
    if let Some(r) = unsafe { CURRENT.load(Ordering::SeqCst).as_ref() } {
        r.inside.store(IN_SINK.with(|s| s.get()) as usize, Ordering::SeqCst);
    }
}

/// Installs `sink` in place of stderr (`None`: stderr again). When it returns,
/// the previous sink is no longer running in any thread and will not be
/// called again: it waits for calls in progress (so a sink must not wait for
/// a thread that is replacing it). A sink calling this gets `CalledFromSink`.
pub fn set_sink(sink: Option<Sink>) -> Result<(), CalledFromSink> {
    if IN_SINK.with(|s| s.get()) {
        return Err(CalledFromSink);
    }
    ATFORK.call_once(|| {
        // SAFETY: registers a plain extern "C" fn that stays valid for the process.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    let new = match sink {
        Some(s) => Box::into_raw(Box::new(Registration { sink: s, inside: AtomicUsize::new(0) })),
        None => ptr::null_mut(),
    };
    let _one_at_a_time = SETTING.lock();
    let old = CURRENT.swap(new, Ordering::SeqCst);
    // SAFETY: as in `enter`.
    if let Some(r) = unsafe { old.as_ref() } {
        let mut spins = 0u32;
        while r.inside.load(Ordering::SeqCst) != 0 {
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            spins += 1;
        }
    }
    Ok(())
}

/// Logs one message: to the sink if one is installed, else one line
/// `daos_rs[pid] LEVEL: message` on stderr, with a single write.
pub fn emit(l: Level, args: std::fmt::Arguments<'_>) {
    let mut msg = args.to_string();
    msg.retain(|c| c != '\n');
    if !IN_SINK.with(|s| s.get()) {
        if let Some(r) = enter() {
            IN_SINK.with(|s| s.set(true));
            let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (r.sink)(l, &msg)));
            IN_SINK.with(|s| s.set(false));
            r.inside.fetch_sub(1, Ordering::SeqCst);
            if called.is_ok() {
                return;
            }
        }
    }
    write_stderr(l, &msg);
}

fn write_stderr(l: Level, msg: &str) {
    let line = format!("daos_rs[{}] {}: {msg}\n", std::process::id(), l.name());
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
    use std::sync::{Arc, Mutex};

    #[test]
    fn parses_levels() {
        assert_eq!(parse_level("ERROR"), Some(Level::Error));
        assert_eq!(parse_level("warn"), Some(Level::Warn));
        assert_eq!(parse_level(" debug "), Some(Level::Debug));
        assert_eq!(parse_level("loud"), None);
        assert!(Level::Error < Level::Debug);
    }

    #[test]
    fn a_sink_gets_the_messages_until_removed_and_may_not_replace_itself() {
        let got: Arc<Mutex<Vec<(Level, String, Result<(), CalledFromSink>)>>> = Arc::default();
        let g = got.clone();
        set_sink(Some(Box::new(move |l, m| {
            // Logging from inside the sink goes to stderr, not back here.
            emit(Level::Error, format_args!("nested"));
            g.lock().unwrap().push((l, m.to_string(), set_sink(None)));
        })))
        .unwrap();
        emit(Level::Warn, format_args!("unit-test marker {}\nsecond line", 7));
        set_sink(None).unwrap();
        emit(Level::Warn, format_args!("unit-test marker after"));
        let got = got.lock().unwrap();
        let mine: Vec<_> = got.iter().filter(|(_, m, _)| m.starts_with("unit-test marker")).collect();
        assert_eq!(mine.len(), 1, "{got:?}");
        assert_eq!(mine[0].0, Level::Warn);
        assert_eq!(mine[0].1, "unit-test marker 7second line");
        assert_eq!(mine[0].2, Err(CalledFromSink));
        assert!(!got.iter().any(|(_, m, _)| m == "nested"));
    }
}
