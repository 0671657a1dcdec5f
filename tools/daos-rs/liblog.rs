//! The library's log, taken with `daos_rs_set_log_callback`: the explanation
//! of a failed call joins the tool's error line (`daos-rs: what: strerror
//! (ENAME): explanation`), and with -v every line is printed as it comes.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use daos_rs::ffi;
use daos_rs::abi::types::{DAOS_RS_LOG_DEBUG, DAOS_RS_LOG_ERROR, DAOS_RS_LOG_INFO, DAOS_RS_LOG_WARN};

/// Messages logged since the last library call returned.
static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());
static VERBOSE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn on_log(_arg: *mut c_void, level: c_int, msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the library passes a NUL-terminated string valid during the call.
    let m = unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned();
    if VERBOSE.load(Ordering::Relaxed) {
        let name = match level {
            DAOS_RS_LOG_ERROR => "error",
            DAOS_RS_LOG_WARN => "warn",
            DAOS_RS_LOG_INFO => "info",
            DAOS_RS_LOG_DEBUG => "debug",
            _ => "log",
        };
        eprintln!("daos-rs: library {name}: {m}");
    }
    if level <= DAOS_RS_LOG_INFO {
        PENDING.lock().unwrap_or_else(|e| e.into_inner()).push(m);
    }
}

/// Installs the callback (before the first library call).
pub fn install(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    // SAFETY: a plain function that copies the message; no argument.
    unsafe { ffi::daos_rs_set_log_callback(Some(on_log), std::ptr::null_mut()) };
}

/// Forgets what was logged (a call succeeded).
pub fn clear() {
    PENDING.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// The explanation of the call that just failed: the last message logged,
/// without the C function's name and the errno it already gives.
pub fn take_explanation() -> Option<String> {
    let mut p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let last = p.pop()?;
    p.clear();
    Some(clean(&last))
}

/// `daos_container_open: not found: container /x does not exist` ->
/// `container /x does not exist`.
fn clean(msg: &str) -> String {
    let mut m = msg;
    if let Some((f, rest)) = m.split_once(": ") {
        if f.starts_with("daos_") && !f.contains(' ') {
            m = rest;
        }
    }
    for kind in [
        "invalid argument: ",
        "bad handle: ",
        "not found: ",
        "busy: ",
        "not permitted: ",
        "already: ",
        "too many events: ",
        "out of memory: ",
    ] {
        if let Some(rest) = m.strip_prefix(kind) {
            m = rest;
            break;
        }
    }
    let mut out = m.to_string();
    // "... (os error 2) (errno 2)": the tool's line names the errno already.
    for _ in 0..2 {
        if let Some(i) = out.rfind(" (errno ").or_else(|| out.rfind(" (os error ")) {
            if out.ends_with(')') {
                out.truncate(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn explanations_lose_the_function_and_the_errno() {
        assert_eq!(clean("daos_container_open: not found: container /x does not exist"), "container /x does not exist");
        assert_eq!(clean("daos_epoch_abort: not permitted: epoch 0 is already committed (HCE 0)"), "epoch 0 is already committed (HCE 0)");
        assert_eq!(clean("daos_x: open /y: No such file (os error 2) (errno 2)"), "open /y: No such file");
        assert_eq!(clean("plain message"), "plain message");
    }
}
