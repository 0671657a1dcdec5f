//! Containers (SPEC §5) and their epochs (SPEC §8).
//!
//! A container is a file (its metadata, see [`meta`]) at a path inside a
//! store; its data lives in shards on the store's targets. Every handle of
//! this process on one container shares one [`CState`]: the metadata as last
//! written, the shards with their indexes, the handles' read references, and
//! the pending waits and listens.

pub mod collective;
pub mod compact;
pub mod epoch;
pub mod hold;
pub(crate) mod litter;
pub mod meta;
mod ops;
pub mod registry;
pub mod writer;
mod files;
mod open;
mod pending;
mod state;

pub use epoch::*;
pub use ops::*;
pub(crate) use files::*;
pub use open::*;
pub use state::*;

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::event::{Completer, Pending};
use crate::abi::types::*;
use crate::base::fork::PerFork;
use crate::handle::{HandleTable, HandleType};

/// What the container layer holds for the whole process.
struct ContainerState {
    /// Container handles.
    handles: HandleTable<CoHandle>,
    /// The in-memory state of each open container, by container identity.
    open: Mutex<HashMap<[u64; 2], Weak<CState>>>,
}

static STATE: PerFork<ContainerState> = PerFork::new();

fn state() -> &'static ContainerState {
    STATE.get(|prev| ContainerState {
        handles: HandleTable::continuing(HandleType::Container, prev.map(|p| &p.handles)),
        open: Mutex::new(HashMap::new()),
    })
}

/// The container handles of this process.
pub(crate) fn handles() -> &'static HandleTable<CoHandle> {
    &state().handles
}

/// The in-memory state of each open container of this process.
fn open_containers() -> &'static Mutex<HashMap<[u64; 2], Weak<CState>>> {
    &state().open
}
use crate::shard::{shard_dir, Shard};
use crate::store::slot::{self, Slot};
use crate::store::{FileLock, StoreConf, DOT_DAOS};
use meta::Meta;
use writer::Writer;

/// A pending `daos_epoch_wait`.
pub struct Waiter {
    /// The handle waiting (its close ends the wait with -EBADF).
    pub cookie: u64,
    pub target: u64,
    pub completer: Completer,
    pub deliver: Box<dyn FnOnce(u64, u64) + Send>,
}

impl Pending for Waiter {
    fn completer(&self) -> &Completer {
        &self.completer
    }
}

/// A pending `daos_container_listen`.
pub struct Listener {
    pub handle: Arc<CoHandle>,
    pub cap: usize,
    pub completer: Completer,
    pub deliver: Box<dyn FnOnce(Vec<daos_shard_event>) + Send>,
}

impl Pending for Listener {
    fn completer(&self) -> &Completer {
        &self.completer
    }
}
