//! The library's record of one caller event.

use crate::abi::evptr::{CompCb, EvPtr};

use super::op::Op;

/// State of an event (SPEC §3), plus `Callback`: completed, its completion
/// callback running, not yet pollable (counts as in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvState {
    None,
    Dispatch,
    Abort,
    Callback,
    Complete,
}

impl EvState {
    /// Dispatched and not yet pollable.
    pub fn in_flight(self) -> bool {
        matches!(self, EvState::Dispatch | EvState::Abort | EvState::Callback)
    }
}

/// No link in the completed list.
pub(super) const NIL: usize = usize::MAX;

/// A k-event.
pub struct KEvent {
    /// Unique within the EQ; ties the caller's `ev_private` to this record.
    pub seq: u64,
    /// The caller's struct; `None` for the private events of synchronous calls.
    pub uev: Option<EvPtr>,
    pub state: EvState,
    /// Slot of the parent, for a child.
    pub parent: Option<usize>,
    /// Slots of the children, in the order they were initialised.
    pub children: Vec<usize>,
    /// Children that have completed since the parent was dispatched.
    pub kids_done: usize,
    /// First non-zero error of a child.
    pub first_err: i32,
    /// Result once completed.
    pub result: i32,
    /// Bumped at each dispatch; part of every request's `user_data`.
    pub gen: u32,
    /// Launched by the caller (`daos_event_launch`), completed by the caller.
    pub user: bool,
    pub op: Option<Box<dyn Op>>,
    /// `user_data` of the requests still in the engine.
    pub outstanding: Vec<u64>,
    pub cb: Option<CompCb>,
    /// Counted in the EQ's `reaped`: the callback reaper takes in its
    /// completion (it has a callback, or a long completion step).
    pub reaped: bool,
    /// Links of the completed list.
    pub prev: usize,
    pub next: usize,
}

impl KEvent {
    pub fn new(seq: u64, uev: Option<EvPtr>, parent: Option<usize>) -> KEvent {
        KEvent {
            seq,
            uev,
            state: EvState::None,
            parent,
            children: Vec::new(),
            kids_done: 0,
            first_err: 0,
            result: 0,
            gen: 0,
            user: false,
            op: None,
            outstanding: Vec::new(),
            cb: None,
            reaped: false,
            prev: NIL,
            next: NIL,
        }
    }

    pub fn set_error(&self, rc: i32) {
        if let Some(u) = self.uev {
            u.set_error(rc);
        }
    }

    pub fn set_type(&self, t: u32) {
        if let Some(u) = self.uev {
            u.set_type(t);
        }
    }
}
