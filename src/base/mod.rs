//! Helpers every layer may use, each a concern of its own: checksums,
//! encoding, files, lock files kept from forked children, the MAC, fork
//! handling and per-process state, configuration from the environment.

pub mod checksum;
pub mod codec;
pub mod config;
pub mod failpoint;
pub mod fork;
pub mod fs;
pub mod ids;
pub mod lock;
pub mod mac;
pub mod os;
pub mod vecs;
