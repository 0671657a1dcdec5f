//! The panic boundary, pointer checks and errno mapping shared by every export.

use std::cell::{Cell, RefCell};
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::error::{Error, Result};

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Replaces the default panic message (several lines) with one line, logged by
/// `call`, for panics inside the library; other panics go to the old hook.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.with(|d| d.get()) > 0 {
                let msg = match info.location() {
                    Some(l) => format!("{} at {}:{}", payload_text(info.payload()), l.file(), l.line()),
                    None => payload_text(info.payload()),
                };
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs the body of an exported function returning `int`: a panic becomes
/// `-EIO` with one log line, an error becomes its negative errno with one line.
pub fn rc(name: &str, f: impl FnOnce() -> Result<c_int>) -> c_int {
    guarded(name, f).unwrap_or_else(|e| e)
}

/// Like `rc`, returning `Err(-errno)` instead of mapping it.
pub fn guarded<T>(name: &str, f: impl FnOnce() -> Result<T>) -> std::result::Result<T, c_int> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            if e.is_flow() {
                crate::log!(Info, "{name}: {e}");
            } else {
                crate::log!(Warn, "{name}: {e}");
            }
            Err(e.to_rc())
        }
        Err(payload) => {
            let msg = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| payload_text(&*payload));
            crate::log!(Error, "{name}: internal error, returning -EIO: {msg}");
            Err(-libc::EIO)
        }
    }
}

/// Checks a required pointer argument.
pub fn required<T>(p: *const T, what: &str) -> Result<()> {
    if p.is_null() {
        return Err(Error::Inval(format!("{what} is NULL")));
    }
    if (p as usize) % std::mem::align_of::<T>() != 0 {
        return Err(Error::Inval(format!("{what} ({p:p}) is not aligned")));
    }
    Ok(())
}

/// Writes an out-parameter, after `required` has checked it.
///
/// # Safety
/// `p` must be non-null, aligned, and valid for a write of `T`: the C caller's
/// promise for every out-parameter.
pub unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: the caller of `put` guarantees `p` is valid for writes.
    unsafe { p.write(v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_eio_and_errors_their_errno() {
        let r = rc("test_panic", || -> Result<c_int> { panic!("boom") });
        assert_eq!(r, -libc::EIO);
        let r = rc("test_err", || -> Result<c_int> { Err(Error::Busy("x".into())) });
        assert_eq!(r, -libc::EBUSY);
        let r = rc("test_ok", || -> Result<c_int> { Ok(7) });
        assert_eq!(r, 7);
        // The boundary keeps working after a panic.
        let r = rc("test_panic2", || -> Result<c_int> { panic!("again") });
        assert_eq!(r, -libc::EIO);
    }

    #[test]
    fn pointer_checks() {
        assert!(required(std::ptr::null::<u64>(), "p").is_err());
        let v = 0u64;
        assert!(required(&v as *const u64, "p").is_ok());
        let odd = (&v as *const u64 as usize + 1) as *const u64;
        assert_eq!(required(odd, "p").unwrap_err().errno(), libc::EINVAL);
    }
}
