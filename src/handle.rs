//! Typed 64-bit handle tables (SPEC §2).
//!
//! A cookie is `value << 10 | (pid & 0x7f) << 3 | type`. Values come from a
//! per-type counter that starts where the parent process's counter stood (after
//! a fork) and never goes back, so a value is never reused while the process
//! lives. The table is split into shards, each behind its own read-write lock,
//! so look-ups of unrelated handles do not serialise on one lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::{Error, Result};

/// The type bits of a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum HandleType {
    Eq = 1,
    Sys = 2,
    Container = 3,
    Object = 4,
}

impl HandleType {
    fn name(self) -> &'static str {
        match self {
            HandleType::Eq => "event queue",
            HandleType::Sys => "system container",
            HandleType::Container => "container",
            HandleType::Object => "object",
        }
    }
}

const TYPE_BITS: u32 = 3;
const PID_BITS: u32 = 7;
const VALUE_SHIFT: u32 = TYPE_BITS + PID_BITS;
const VALUE_MAX: u64 = (1 << (64 - VALUE_SHIFT)) - 1;
const SHARDS: usize = 64;

/// The handle bits of a PID.
pub fn pid_bits(pid: u32) -> u64 {
    (pid as u64) & ((1 << PID_BITS) - 1)
}

/// A hasher for values that are already well spread (a counter): one multiply.
#[derive(Default)]
pub struct CounterHasher(u64);

impl Hasher for CounterHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | *b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard<T> = RwLock<HashMap<u64, Arc<T>, BuildHasherDefault<CounterHasher>>>;

/// A table of live objects of one handle type.
pub struct HandleTable<T> {
    ty: HandleType,
    pid: u64,
    next: AtomicU64,
    shards: Box<[Shard<T>]>,
}

impl<T> HandleTable<T> {
    /// A table for `ty` in the process `pid`, issuing values from `first`.
    pub fn new(ty: HandleType, pid: u32, first: u64) -> Self {
        HandleTable {
            ty,
            pid: pid_bits(pid),
            next: AtomicU64::new(first.max(1)),
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::default())).collect(),
        }
    }

    /// A table for `ty` in this process: a fresh one, or after a fork one
    /// that continues from the parent's (stale) table `prev`, so that no
    /// value is issued twice.
    pub fn continuing(ty: HandleType, prev: Option<&HandleTable<T>>) -> Self {
        HandleTable::new(ty, std::process::id(), prev.map_or(1, |p| p.next_value()))
    }

    /// The next value this table would issue (used to continue after fork).
    pub fn next_value(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    fn shard(&self, value: u64) -> &Shard<T> {
        &self.shards[(value as usize) % SHARDS]
    }

    /// Adds an object and returns its new cookie. The object is built by `make`
    /// from the cookie, so it can know its own handle.
    pub fn insert_with(&self, make: impl FnOnce(u64) -> Result<Arc<T>>) -> Result<u64> {
        let value = self.next.fetch_add(1, Ordering::Relaxed);
        if value > VALUE_MAX {
            return Err(Error::NoMem(format!("{} handle values exhausted", self.ty.name())));
        }
        let cookie = value << VALUE_SHIFT | self.pid << TYPE_BITS | self.ty as u64;
        let obj = make(cookie)?;
        self.shard(value).write().insert(value, obj);
        Ok(cookie)
    }

    fn value_of(&self, cookie: u64) -> Result<u64> {
        if cookie == 0 {
            return Err(Error::BadF(format!("{} handle is 0", self.ty.name())));
        }
        if cookie & ((1 << TYPE_BITS) - 1) != self.ty as u64 {
            return Err(Error::BadF(format!(
                "handle {cookie:#x} is not a {} handle",
                self.ty.name()
            )));
        }
        if (cookie >> TYPE_BITS) & ((1 << PID_BITS) - 1) != self.pid {
            return Err(Error::BadF(format!(
                "handle {cookie:#x} was made by another process"
            )));
        }
        Ok(cookie >> VALUE_SHIFT)
    }

    /// Finds a live object by cookie; `-EBADF` for anything else.
    pub fn get(&self, cookie: u64) -> Result<Arc<T>> {
        let value = self.value_of(cookie)?;
        self.shard(value).read().get(&value).cloned().ok_or_else(|| {
            Error::BadF(format!(
                "{} handle {cookie:#x} is closed or was never issued",
                self.ty.name()
            ))
        })
    }

    /// Removes an object; later look-ups of its cookie give `-EBADF`.
    pub fn remove(&self, cookie: u64) -> Result<Arc<T>> {
        let value = self.value_of(cookie)?;
        self.shard(value).write().remove(&value).ok_or_else(|| {
            Error::BadF(format!(
                "{} handle {cookie:#x} is closed or was never issued",
                self.ty.name()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_carry_type_pid_and_unique_values() {
        let t: HandleTable<u32> = HandleTable::new(HandleType::Eq, 0x1234_5678, 1);
        let a = t.insert_with(|_| Ok(Arc::new(1))).unwrap();
        let b = t.insert_with(|_| Ok(Arc::new(2))).unwrap();
        assert_ne!(a, b);
        assert_eq!(a & 7, 1);
        assert_eq!((a >> 3) & 0x7f, 0x78);
        assert_eq!(*t.get(a).unwrap(), 1);
        assert_eq!(*t.get(b).unwrap(), 2);
        t.remove(a).unwrap();
        assert_eq!(t.get(a).unwrap_err().errno(), libc::EBADF);
        let c = t.insert_with(|_| Ok(Arc::new(3))).unwrap();
        assert_ne!(c, a, "values are never reused");
    }

    #[test]
    fn rejects_zero_wrong_type_and_foreign_pid() {
        let t: HandleTable<u32> = HandleTable::new(HandleType::Container, 100, 1);
        let h = t.insert_with(|_| Ok(Arc::new(7))).unwrap();
        assert_eq!(t.get(0).unwrap_err().errno(), libc::EBADF);
        assert_eq!(t.get(h & !7 | 1).unwrap_err().errno(), libc::EBADF);
        assert_eq!(t.get(h ^ (1 << 3)).unwrap_err().errno(), libc::EBADF);
        assert_eq!(t.get(h + (1 << 10)).unwrap_err().errno(), libc::EBADF);
        let other: HandleTable<u32> = HandleTable::new(HandleType::Container, 101, t.next_value());
        assert_eq!(other.get(h).unwrap_err().errno(), libc::EBADF);
    }

    #[test]
    fn counter_continues_from_given_value() {
        let t: HandleTable<u32> = HandleTable::new(HandleType::Object, 5, 1000);
        let h = t.insert_with(|_| Ok(Arc::new(0))).unwrap();
        assert_eq!(h >> 10, 1000);
        assert_eq!(t.next_value(), 1001);
    }
}
