//! Operations: small state machines over engine requests. An operation lives
//! in its k-event from dispatch until its last completion, together with every
//! buffer its requests point to, even when it is aborted.

use std::time::Duration;

use crate::engine::{self, Cqe, Req};
use crate::error::Result;
use crate::abi::types::{daos_ev_type_t, DAOS_EV_NOOP};

const SLOT_SHIFT: u32 = 32;
const GEN_SHIFT: u32 = 8;
const GEN_MASK: u64 = 0xff_ffff;

/// The `user_data` of request `tag` of dispatch `gen` of the k-event in `slot`.
pub fn user_data(slot: usize, gen: u32, tag: u8) -> u64 {
    (slot as u64) << SLOT_SHIFT | (gen as u64 & GEN_MASK) << GEN_SHIFT | tag as u64
}

/// Splits a `user_data` into slot, generation and tag.
pub fn split_user_data(ud: u64) -> (usize, u32, u8) {
    ((ud >> SLOT_SHIFT) as usize, ((ud >> GEN_SHIFT) & GEN_MASK) as u32, ud as u8)
}

/// Where an operation queues its requests.
pub struct Submit<'a> {
    pub(super) engine: &'a mut engine::Local,
    pub(super) slot: usize,
    pub(super) gen: u32,
    pub(super) out: &'a mut Vec<Cqe>,
    pub(super) outstanding: &'a mut Vec<u64>,
}

impl Submit<'_> {
    /// Queues one request; its completion comes back to the op with `tag`.
    pub fn push(&mut self, tag: u8, req: Req) -> Result<()> {
        let ud = user_data(self.slot, self.gen, tag);
        self.engine.push(req, ud, self.out)?;
        self.outstanding.push(ud);
        Ok(())
    }
}

/// An asynchronous operation carried by one event.
pub trait Op: Send {
    /// The `DAOS_EV_*` type written into the event at dispatch.
    fn ev_type(&self) -> daos_ev_type_t;
    /// Queues the first requests. An error here un-dispatches the event.
    fn start(&mut self, sub: &mut Submit<'_>) -> Result<()>;
    /// One request completed with `res`; may queue follow-up requests.
    fn on_cqe(&mut self, tag: u8, res: i32, sub: &mut Submit<'_>);
    /// The operation's result once no request is outstanding.
    fn result(&self, aborted: bool) -> i32;
    /// Its completion step is long (a large read's checksums): with io_uring,
    /// the callback reaper takes the completion in as soon as it arrives, so
    /// the step runs while the caller computes, not in its next poll.
    fn long_completion(&self) -> bool {
        false
    }
    /// An operation completed from outside the engine (see [`ExternalOp`])
    /// that an abort may complete with `-EINTR` while it has no request out.
    fn abort_completes(&self) -> bool {
        false
    }
}

/// An operation whose completion comes from outside the engine: work done by
/// the calling thread, or a wait that another thread's commit ends. It has no
/// requests; [`super::Completer::complete`] completes it.
pub struct ExternalOp {
    pub ev_type: daos_ev_type_t,
    /// An abort completes it at once with `-EINTR` (waits and listens).
    pub abortable: bool,
}

impl Op for ExternalOp {
    fn ev_type(&self) -> daos_ev_type_t {
        self.ev_type
    }
    fn start(&mut self, _sub: &mut Submit<'_>) -> Result<()> {
        Ok(())
    }
    fn on_cqe(&mut self, _tag: u8, _res: i32, _sub: &mut Submit<'_>) {}
    fn result(&self, _aborted: bool) -> i32 {
        -libc::EINTR
    }
    fn abort_completes(&self) -> bool {
        self.abortable
    }
}

/// `daos_noop`: a timeout of `delay`, or a NOP for no delay.
pub struct NoopOp {
    delay: Duration,
    res: i32,
}

impl NoopOp {
    pub fn new(delay_us: u64) -> NoopOp {
        NoopOp { delay: Duration::from_micros(delay_us), res: 0 }
    }
}

impl Op for NoopOp {
    fn ev_type(&self) -> daos_ev_type_t {
        DAOS_EV_NOOP
    }

    fn start(&mut self, sub: &mut Submit<'_>) -> Result<()> {
        if self.delay.is_zero() {
            sub.push(0, Req::Nop)
        } else {
            sub.push(0, Req::Timeout(self.delay))
        }
    }

    fn on_cqe(&mut self, _tag: u8, res: i32, _sub: &mut Submit<'_>) {
        self.res = match res {
            r if r == -libc::ETIME => 0,
            r if r == -libc::ECANCELED => -libc::EINTR,
            r => r.min(0),
        };
    }

    fn result(&self, _aborted: bool) -> i32 {
        self.res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trips() {
        let ud = user_data(123_456, 0x12_3456, 7);
        assert_eq!(split_user_data(ud), (123_456, 0x12_3456, 7));
        assert_eq!(ud & crate::engine::INTERNAL, 0);
        let (_, g, _) = split_user_data(user_data(1, 0x1ff_ffff, 0));
        assert_eq!(g, 0xff_ffff, "generation wraps within its field");
    }
}
