//! The system container: a handle on a store's configuration (SPEC §4).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::conf::{marker_ok, StoreConf};
use super::find_root;
use crate::error::{Error, Result};
use crate::event::{end_pending, Completer, Pending};
use crate::abi::types::*;
use crate::base::fork::PerFork;
use crate::handle::{HandleTable, HandleType};

/// What the store layer holds for the whole process.
struct StoreState {
    /// System container handles.
    sys: HandleTable<SysHandle>,
    /// Pending `daos_sys_listen` calls.
    sys_listeners: Mutex<Vec<SysListener>>,
}

static STATE: PerFork<StoreState> = PerFork::new();

fn state() -> &'static StoreState {
    STATE.get(|prev| StoreState { sys: HandleTable::continuing(HandleType::Sys, prev.map(|p| &p.sys)), sys_listeners: Mutex::new(Vec::new()) })
}

/// An open system container.
pub struct SysHandle {
    pub root: PathBuf,
    /// The configuration as of the open (topology, directories).
    pub conf: StoreConf,
    /// Target statuses this handle has reported (at open, then by listen).
    seen: Mutex<Vec<i32>>,
    /// Watches `.daos/store.meta` for other processes' status changes, from
    /// the handle's first listen on (see [`watch_store`]).
    watch: Mutex<Option<crate::notify::WatchGuard>>,
}

/// A `daos_sys_listen` waiting for a status change.
pub struct SysListener {
    handle: Arc<SysHandle>,
    cookie: u64,
    cap: usize,
    completer: Completer,
    deliver: Box<dyn FnOnce(Vec<daos_target_event>) + Send>,
}

impl Pending for SysListener {
    fn completer(&self) -> &Completer {
        &self.completer
    }
}

/// `daos_sys_open`.
pub fn sys_open(path: &Path) -> Result<u64> {
    let root = find_root(path)?;
    let conf = StoreConf::open(&root)?;
    let seen = conf.targets.iter().map(|t| t.status()).collect();
    let h = SysHandle { root, conf, seen: Mutex::new(seen), watch: Mutex::new(None) };
    state().sys.insert_with(|_| Ok(Arc::new(h)))
}

/// `daos_sys_close`: pending listens on the handle complete with -EBADF.
pub fn sys_close(cookie: u64) -> Result<()> {
    state().sys.remove(cookie)?;
    end_pending(&state().sys_listeners, |l| l.cookie == cookie, -libc::EBADF);
    Ok(())
}

/// Looks up an open system container handle.
pub fn handle(cookie: u64) -> Result<Arc<SysHandle>> {
    state().sys.get(cookie)
}

/// The storage tree: cage → rack → node → targets.
type Tree = BTreeMap<i32, BTreeMap<i32, BTreeMap<i32, Vec<u32>>>>;

fn tree(conf: &StoreConf) -> Tree {
    let mut t = Tree::new();
    for tg in &conf.targets {
        let l = tg.loc;
        t.entry(l.lc_cage).or_default().entry(l.lc_rack).or_default().entry(l.lc_node).or_default().push(tg.id);
    }
    t
}

fn key(t: daos_loc_type_t, id: i32) -> daos_loc_key {
    daos_loc_key { lk_type: t, lk_id: id as u32 }
}

/// The pre-order footprints of `daos_sys_query` for `loc` and `depth`.
pub fn sys_query(cookie: u64, loc: daos_location, depth: u32) -> Result<Vec<daos_loc_key>> {
    let h = handle(cookie)?;
    let t = tree(&h.conf);
    for v in [loc.lc_cage, loc.lc_rack, loc.lc_node] {
        if v < DAOS_LOC_UNKNOWN {
            return Err(Error::Inval(format!("location value {v} (use >= 0 or DAOS_LOC_UNKNOWN)")));
        }
    }
    let unk = |v: i32| v == DAOS_LOC_UNKNOWN;
    if (unk(loc.lc_cage) && !(unk(loc.lc_rack) && unk(loc.lc_node))) || (unk(loc.lc_rack) && !unk(loc.lc_node)) {
        return Err(Error::Inval("a location may name a rack only with its cage, a node only with its rack".into()));
    }
    // Levels below the given location: 1 = the first level under it.
    let lim = |levels: u32| if depth == 0 || depth >= levels { levels } else { depth };
    let mut out = Vec::new();
    let missing = |what: &str, v: i32| Error::NoEnt(format!("no {what} {v} in this store"));
    let nodes = |out: &mut Vec<daos_loc_key>, n: &BTreeMap<i32, Vec<u32>>, levels: u32| {
        for (nid, tg) in n {
            out.push(key(DAOS_LOC_TYP_NODE, *nid));
            if levels >= 2 {
                out.extend(tg.iter().map(|&t| key(DAOS_LOC_TYP_TARGET, t as i32)));
            }
        }
    };
    let racks = |out: &mut Vec<daos_loc_key>, r: &BTreeMap<i32, BTreeMap<i32, Vec<u32>>>, levels: u32| {
        for (rid, n) in r {
            out.push(key(DAOS_LOC_TYP_RACK, *rid));
            if levels >= 2 {
                nodes(out, n, levels - 1);
            }
        }
    };
    if unk(loc.lc_cage) {
        let levels = lim(4);
        for (cid, r) in &t {
            out.push(key(DAOS_LOC_TYP_CAGE, *cid));
            if levels >= 2 {
                racks(&mut out, r, levels - 1);
            }
        }
    } else {
        let r = t.get(&loc.lc_cage).ok_or_else(|| missing("cage", loc.lc_cage))?;
        if unk(loc.lc_rack) {
            racks(&mut out, r, lim(3));
        } else {
            let n = r.get(&loc.lc_rack).ok_or_else(|| missing("rack", loc.lc_rack))?;
            if unk(loc.lc_node) {
                nodes(&mut out, n, lim(2));
            } else {
                let tg = n.get(&loc.lc_node).ok_or_else(|| missing("node", loc.lc_node))?;
                out.extend(tg.iter().map(|&t| key(DAOS_LOC_TYP_TARGET, t as i32)));
            }
        }
    }
    Ok(out)
}

/// Storage type of the block device behind `dir`, from its `rotational` flag.
pub fn device_type(dir: &Path) -> daos_target_type_t {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(dir) else { return DAOS_TARGET_TYPE_HDD };
    let dev = md.dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let base = PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    for p in [base.join("queue/rotational"), base.join("../queue/rotational")] {
        if let Ok(s) = std::fs::read_to_string(&p) {
            return if s.trim() == "0" { DAOS_TARGET_TYPE_SSD } else { DAOS_TARGET_TYPE_HDD };
        }
    }
    DAOS_TARGET_TYPE_HDD
}

/// Number of shards (of any container) on a target directory.
pub fn count_shards(dir: &Path) -> u32 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for c in rd.flatten() {
            if c.file_name().to_string_lossy().starts_with("c-") {
                if let Ok(sd) = std::fs::read_dir(c.path()) {
                    n += sd.flatten().filter(|s| s.file_name().to_string_lossy().starts_with("s-")).count() as u32;
                }
            }
        }
    }
    n
}

/// The current status of target `id` (UNKNOWN if its
/// directory is gone or belongs to another store).
pub fn target_status(conf: &StoreConf, id: u32) -> i32 {
    let Ok(t) = conf.target(id) else { return DAOS_TARGET_ST_UNKNOWN };
    if !marker_ok(&t.dir, conf.uuid, id) {
        return DAOS_TARGET_ST_UNKNOWN;
    }
    t.status()
}

/// Location block of a target: one location, the current one.
pub fn target_loc(loc: daos_location) -> daos_target_loc {
    let mut l = daos_target_loc { tl_current: 0, tl_nlocs: 1, ..Default::default() };
    l.tl_failovers[0] = loc;
    l
}

/// `daos_sys_query_target`.
pub fn sys_query_target(cookie: u64, target: u32) -> Result<daos_target_info> {
    let h = handle(cookie)?;
    h.conf.target(target)?;
    // Status is current; the rest is the configuration as of the open.
    let now = h.conf.reload(&h.root);
    let t = h.conf.target(target)?;
    let mut info = daos_target_info {
        ti_status: target_status(&now, target),
        ti_type: device_type(&t.dir),
        ti_loc: target_loc(t.loc),
        ti_perf: t.perf,
        ..Default::default()
    };
    if let Ok(n) = now.target(target) {
        info.ti_perf = n.perf;
        info.ti_affinity.ta_latency = n.latency_us;
    }
    info.ti_affinity.ta_cpu_aff = -1;
    info.ti_affinity.ta_net_dist = 0;
    let c = std::ffi::CString::new(t.dir.as_os_str().as_encoded_bytes()).map_err(|_| Error::Inval("target path".into()))?;
    // SAFETY: a zeroed statvfs is a valid out-buffer; `c` is a valid C string.
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointers are valid for the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut sv) } == 0 {
        info.ti_space.ts_size = sv.f_blocks as u64 * sv.f_frsize as u64;
        info.ti_space.ts_free = sv.f_bavail as u64 * sv.f_frsize as u64;
    }
    info.ti_space.ts_nshard = count_shards(&t.dir);
    Ok(info)
}

/// `daos_sys_target_set_status`: `DAOS_TARGET_ST_DISABLED` disables,
/// 0..=100 enables with that health.
pub fn sys_set_status(cookie: u64, target: u32, status: i32) -> Result<()> {
    let h = handle(cookie)?;
    if !(status == DAOS_TARGET_ST_DISABLED || (0..=DAOS_TARGET_ST_HEALTHY).contains(&status)) {
        return Err(Error::Inval(format!(
            "status {status}: use DAOS_TARGET_ST_DISABLED (-1) or a health of 0..100"
        )));
    }
    StoreConf::update(&h.root, |c| {
        let n = c.targets.len();
        let t = c
            .targets
            .get_mut(target as usize)
            .ok_or_else(|| Error::NoEnt(format!("target {target} does not exist (the store has {n})")))?;
        let before = t.status();
        if status == DAOS_TARGET_ST_DISABLED {
            t.disabled = true;
        } else {
            t.disabled = false;
            t.health = status;
        }
        Ok(t.status() != before)
    })?;
    notify(&h.root);
    Ok(())
}

/// Lowers the health of a target after an I/O error or a checksum mismatch.
pub fn lower_health(root: &Path, target: u32, by: i32) {
    let r = StoreConf::update(root, |c| {
        Ok(match c.targets.get_mut(target as usize) {
            Some(t) if t.health > 0 => {
                t.health = (t.health - by).max(0);
                true
            }
            _ => false,
        })
    });
    match r {
        Ok(_) => notify(root),
        Err(e) => crate::log!(Warn, "could not record the health of target {target}: {e}"),
    }
}

/// [`lower_health`] on a thread of its own, for callers holding an EQ lock
/// (the change completes listens, which takes EQ locks).
pub fn lower_health_later(root: &Path, target: u32) {
    let root = root.to_path_buf();
    std::thread::spawn(move || lower_health(&root, target, 10));
}

/// Changes of status since what `h` has seen, at most `cap`; marks them seen.
fn changes(h: &SysHandle, cap: usize) -> Vec<daos_target_event> {
    let Ok(now) = StoreConf::load(&h.root) else { return Vec::new() };
    let mut seen = h.seen.lock();
    let mut out = Vec::new();
    for t in &now.targets {
        let st = target_status(&now, t.id);
        let i = t.id as usize;
        if i < seen.len() && seen[i] != st && out.len() < cap {
            seen[i] = st;
            out.push(daos_target_event { te_target: t.id, te_status: st });
        }
    }
    out
}

/// `daos_sys_listen`: completes (through `completer`) when the status of a
/// target differs from what this handle last saw; `deliver` gets the changes.
/// Errors complete the listen.
pub fn sys_listen(cookie: u64, cap: usize, completer: Completer, deliver: Box<dyn FnOnce(Vec<daos_target_event>) + Send>) {
    let h = match handle(cookie) {
        Ok(h) if cap > 0 => h,
        Ok(_) => {
            completer.complete(|| -libc::EINVAL);
            return;
        }
        Err(e) => {
            completer.complete(|| e.to_rc());
            return;
        }
    };
    // Registered before the check below, so that a change made by another
    // process after it wakes this listen.
    watch_store(&h);
    let mut ls = state().sys_listeners.lock();
    let evs = changes(&h, cap);
    if !evs.is_empty() {
        drop(ls);
        completer.complete(|| {
            deliver(evs);
            0
        });
        return;
    }
    ls.push(SysListener { handle: h, cookie, cap, completer, deliver });
}

/// Makes sure a change of the store configuration by another process (it
/// is replaced by a rename, see `StoreConf::update`) re-checks the listeners
/// of the store: the handle's first listen registers a watch on
/// `.daos/store.meta`, kept while the handle lives, whose callback (on the
/// notifier thread) is [`notify`], which reads the configuration from disk.
fn watch_store(h: &SysHandle) {
    let mut w = h.watch.lock();
    if w.is_some() {
        return;
    }
    let root = h.root.clone();
    let cb: crate::notify::Callback = Arc::new(move || notify(&root));
    *w = crate::notify::watch(&h.root.join(super::DOT_DAOS), std::ffi::OsStr::new(super::conf::META_FILE), cb);
}

/// Re-checks the listeners of the store at `root` after a status change,
/// against the configuration as it is on disk now (see `changes`).
pub fn notify(root: &Path) {
    let mut ls = state().sys_listeners.lock();
    let pending = std::mem::take(&mut *ls);
    for l in pending {
        if l.completer.is_dead() {
            continue;
        }
        if l.handle.root != root {
            ls.push(l);
            continue;
        }
        let evs = changes(&l.handle, l.cap);
        if evs.is_empty() {
            ls.push(l);
        } else {
            let SysListener { completer, deliver, .. } = l;
            completer.complete(|| {
                deliver(evs);
                0
            });
        }
    }
}
