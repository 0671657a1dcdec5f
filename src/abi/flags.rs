//! The flag sets of the C API as `bitflags` types, with one parser that
//! refuses unknown bits (`-EINVAL`, naming them).

use bitflags::Flags;

use super::types::*;
use crate::error::{Error, Result};

bitflags::bitflags! {
    /// `daos_container_open` modes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CooMode: u32 {
        const RO = DAOS_COO_RO;
        const RW = DAOS_COO_RW;
        const CREATE = DAOS_COO_CREATE;
        const OWN_RECOV = DAOS_COO_OWN_RECOV;
        const NOCSUM = DAOS_RS_COO_NOCSUM;
    }

    /// `daos_object_open` modes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ObjMode: u32 {
        const RO = DAOS_OBJ_RO;
        const RW = DAOS_OBJ_RW;
        const IO_BUFFERED = DAOS_OBJ_IO_BUFFERED;
        const IO_RAND = DAOS_OBJ_IO_RAND;
        const IO_SEQ = DAOS_OBJ_IO_SEQ;
    }

    /// `daos_sys_format` flags.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct FormatFlags: u32 {
        const NO_PROBE = DAOS_SYS_FORMAT_NO_PROBE;
    }

    /// `daos_eq_query` modes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct EvQuery: u32 {
        const COMPLETED = DAOS_EVQ_COMPLETED;
        const INFLIGHT = DAOS_EVQ_INFLIGHT;
    }
}

/// The flag set `bits`, or `-EINVAL` ("unknown `what` bits 0x..") if it has
/// a bit the set does not define.
pub fn parse<F: Flags<Bits = u32>>(bits: u32, what: &str) -> Result<F> {
    F::from_bits(bits).ok_or_else(|| Error::Inval(format!("unknown {what} bits {:#x}", bits & !F::all().bits())))
}

/// Whether a mode with exactly one of RO and RW is read-write; `-EINVAL`
/// (`msg`) for neither or both.
pub fn read_write(ro: bool, rw: bool, msg: &str) -> Result<bool> {
    match (ro, rw) {
        (true, false) => Ok(false),
        (false, true) => Ok(true),
        _ => Err(Error::Inval(msg.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_unknown_bits_and_names_them() {
        let m: CooMode = parse(DAOS_COO_RW | DAOS_COO_CREATE, "open mode").unwrap();
        assert!(m.contains(CooMode::RW | CooMode::CREATE) && !m.contains(CooMode::RO));
        let e = parse::<ObjMode>(DAOS_OBJ_RW | 1 << 9, "object mode").unwrap_err();
        assert_eq!((e.errno(), e.to_string().contains("0x200")), (libc::EINVAL, true));
        assert!(parse::<FormatFlags>(2, "flag").is_err());
        assert!(read_write(false, true, "x").unwrap());
        assert!(read_write(true, true, "x").is_err() && read_write(false, false, "x").is_err());
    }
}
