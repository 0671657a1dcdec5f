//! Storage core tests, through containers and objects (so in the top core
//! layer): commit and replay, abort, close, aggregation and
//! space reclamation, checksum verification.

use std::path::{Path, PathBuf};

use crate::event::run_op;
use crate::abi::iomem::UserMem;
use crate::abi::types::*;
use crate::{container, object, store};

struct TempStore(PathBuf);

impl TempStore {
    fn new(name: &str) -> TempStore {
        let p = std::env::temp_dir().join(format!("daos-rs-ut-{name}-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        std::fs::create_dir_all(&p).unwrap();
        store::format(&p, &store::default_specs(2, None), DAOS_SYS_FORMAT_NO_PROBE, &mut |_, _| {}).unwrap();
        TempStore(p)
    }
    fn path(&self, n: &str) -> PathBuf {
        self.0.join(n)
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn oid(lo: u64) -> daos_obj_id_t {
    daos_obj_id_t { o_id_hi: 0, o_id_lo: lo }
}

/// The caller's memory for a synchronous call: `run_op` returns after the
/// operation completed, while the buffer is still borrowed by the caller.
fn mem(v: &mut [u8]) -> UserMem {
    // SAFETY: every use runs the operation to completion (run_op) before
    // the buffer is touched again or dropped.
    unsafe { UserMem::from_vec(v) }
}

fn write(oh: u64, e: u64, off: u64, data: &mut [u8]) {
    let n = data.len() as u64;
    let op = object::write(oh, e, mem(data), &[daos_io_frag { if_offset: off, if_nob: n }]).unwrap();
    run_op(None, op).unwrap();
}

fn read(oh: u64, e: u64, off: u64, n: usize) -> crate::error::Result<Vec<u8>> {
    let mut v = vec![0xEEu8; n];
    let op = object::read(oh, e, mem(&mut v), &[daos_io_frag { if_offset: off, if_nob: n as u64 }])?;
    run_op(None, op)?;
    Ok(v)
}

/// Drops the last handle on a container and waits until its shared state is
/// gone (the aggregation thread lets go of it last), so the next open replays.
fn gone(h: std::sync::Arc<container::CoHandle>) {
    let w = std::sync::Arc::downgrade(&h.cs);
    drop(h);
    for _ in 0..1000 {
        if w.upgrade().is_none() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("the container's state is still held");
}

fn open_rw(p: &Path) -> u64 {
    container::open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1).unwrap().1
}

#[test]
fn commit_survives_reopen_and_uncommitted_does_not() {
    let st = TempStore::new("replay");
    let p = st.path("c");
    let coh = open_rw(&p);
    let mut ids = [-1];
    container::shard_add(coh, 1, &[0], &mut ids).unwrap();
    let oh = object::open(coh, oid(7), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 10, &mut [1u8; 5000]);
    container::commit(coh, 1, false).unwrap();
    write(oh, 2, 0, &mut [2u8; 100]);
    assert_eq!(read(oh, u64::MAX, 0, 4).unwrap(), vec![2u8; 4], "own staging is visible");
    container::close(coh).unwrap();
    let (status, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    assert_eq!(status, DAOS_CONTAINER_ST_OK);
    let oh = object::open(coh, oid(7), DAOS_OBJ_RO).unwrap();
    let v = read(oh, u64::MAX, 0, 5010).unwrap();
    assert_eq!(&v[..10], &[0u8; 10]);
    assert!(v[10..].iter().all(|&b| b == 1), "epoch 1 intact, epoch 2 never visible");
    assert_eq!(container::query_epoch(coh).unwrap().epi_hce.seq, 1);
    container::close(coh).unwrap();
}

#[test]
fn abort_is_durable_and_later_writes_are_kept() {
    let st = TempStore::new("abort");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[1], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(1), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 0, &mut [1u8; 64]);
    container::abort(coh, 1).map_err(|e| e.1).unwrap();
    assert_eq!(read(oh, u64::MAX, 0, 64).unwrap(), vec![0u8; 64]);
    write(oh, 1, 0, &mut [3u8; 32]);
    container::commit(coh, 1, false).unwrap();
    container::close(coh).unwrap();
    let (_, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    let oh = object::open(coh, oid(1), DAOS_OBJ_RO).unwrap();
    let v = read(oh, u64::MAX, 0, 64).unwrap();
    assert_eq!(&v[..32], &[3u8; 32]);
    assert_eq!(&v[32..], &[0u8; 32], "the aborted write stays dropped after replay");
    container::close(coh).unwrap();
}

#[test]
fn aggregation_drops_old_versions_and_reclaims_space() {
    let st = TempStore::new("agg");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(3), DAOS_OBJ_RW).unwrap();
    for e in 1..=8u64 {
        write(oh, e, 0, &mut vec![e as u8; 256 * 1024]);
        container::commit(coh, e, e == 2).unwrap();
    }
    container::close(coh).unwrap();
    let coh = open_rw(&p);
    let h = container::handle(coh).unwrap();
    let sh = h.cs.shard(0).unwrap();
    let before = sh.disk_bytes();
    assert_eq!(sh.index.read().len(), 8);
    container::slip(coh, u64::MAX).unwrap();
    let wait_idle = || {
        while h.cs.compacting.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    wait_idle();
    // Versions 1 and 3..7 are invisible at HCE and not kept: dropped.
    assert_eq!(sh.index.read().len(), 2);
    let oh = object::open(coh, oid(3), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oh, 1, 0, 8).map_err(|e| e.errno()), Err(libc::ESTALE));
    assert_eq!(read(oh, 2, 0, 8).unwrap(), vec![2u8; 8], "a sync-kept epoch stays readable");
    let after = sh.disk_bytes();
    assert!(after < before / 2, "space reclaimed: {before} -> {after}");
    assert_eq!(read(oh, u64::MAX, 0, 8).unwrap(), vec![8u8; 8]);
    container::close(coh).unwrap();
    drop(sh);
    gone(h);
    let (_, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    assert_eq!(container::handle(coh).unwrap().cs.shard(0).unwrap().index.read().len(), 2, "replayed from the compacted segment");
    let oh = object::open(coh, oid(3), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oh, u64::MAX, 0, 8).unwrap(), vec![8u8; 8], "compacted data replays");
    assert_eq!(read(oh, 2, 100, 8).unwrap(), vec![2u8; 8]);
    assert_eq!(read(oh, 5, 0, 8).map_err(|e| e.errno()), Err(libc::ESTALE));
    container::close(coh).unwrap();
}

#[test]
fn corrupted_data_reads_as_eio_never_wrong_bytes() {
    use std::os::unix::fs::FileExt;
    let st = TempStore::new("crc");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(9), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 0, &mut [5u8; 20000]);
    container::commit(coh, 1, false).unwrap();
    let h = container::handle(coh).unwrap();
    let dir = h.cs.shard(0).unwrap().dir.clone();
    container::close(coh).unwrap();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "dat") {
            // The object's 20000 bytes are the last bytes of the data file.
            let f = std::fs::OpenOptions::new().write(true).open(e.path()).unwrap();
            let len = f.metadata().unwrap().len();
            f.write_all_at(&[0x55], len - 20000 + 9000).unwrap();
        }
    }
    let (_, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    let oh = object::open(coh, oid(9), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oh, 1, 0, 4096).unwrap(), vec![5u8; 4096], "other chunks still read");
    let mut v = vec![0xEEu8; 100];
    let op = object::read(oh, 1, mem(&mut v), &[daos_io_frag { if_offset: 8950, if_nob: 100 }]).unwrap();
    assert_eq!(run_op(None, op).map_err(|e| e.errno()), Err(libc::EIO));
    assert!(v.iter().all(|&b| b == 0), "no wrong bytes are left in the buffer");
    container::close(coh).unwrap();
    // The target's health drops (recorded by a background thread; wait for
    // it, so the store is not removed under it).
    let mut lowered = false;
    for _ in 0..400 {
        if store::StoreConf::load(&st.0).unwrap().targets[0].health < 100 {
            lowered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(lowered, "a checksum mismatch lowers the target's health");
}

#[test]
fn snapshot_shares_files_and_keeps_its_epoch() {
    use std::os::unix::fs::MetadataExt;
    let st = TempStore::new("snap");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(4), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 0, &mut [1u8; 9000]);
    container::commit(coh, 1, false).unwrap();
    container::snapshot(coh, 1, &st.path("snap")).unwrap();
    write(oh, 2, 0, &mut [2u8; 9000]);
    container::commit(coh, 2, false).unwrap();
    let src_dir = container::handle(coh).unwrap().cs.shard(0).unwrap().dir.clone();
    let linked = std::fs::read_dir(&src_dir).unwrap().flatten().any(|e| e.metadata().unwrap().nlink() >= 2);
    assert!(linked, "the snapshot shares the segment files by hard links");
    let (st2, sh) = container::open(&st.path("snap"), DAOS_COO_RO, 1).unwrap();
    assert_eq!(st2, DAOS_CONTAINER_ST_OK);
    assert_eq!(container::query_epoch(sh).unwrap().epi_hce.seq, 1);
    let so = object::open(sh, oid(4), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(so, u64::MAX, 0, 9000).unwrap(), vec![1u8; 9000]);
    assert_eq!(read(oh, u64::MAX, 0, 10).unwrap(), vec![2u8; 10]);
    container::close(sh).unwrap();
    container::close(coh).unwrap();
}

#[test]
fn compaction_keeps_committed_punches() {
    let st = TempStore::new("punch");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(1), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 0, &mut [b'A'; 65536]);
    container::commit(coh, 1, false).unwrap();
    container::close(coh).unwrap();
    // A second writer punches object 1 and rewrites object 2 a few times, so
    // its segment is mostly dead and gets compacted.
    let coh = open_rw(&p);
    run_op(None, object::punch(coh, 2, oid(1), 4096, 8192).unwrap().unwrap()).unwrap();
    let o2 = object::open(coh, oid(2), DAOS_OBJ_RW).unwrap();
    for e in 2..=4u64 {
        write(o2, e, 0, &mut [e as u8; 8192]);
        container::commit(coh, e, false).unwrap();
    }
    container::close(coh).unwrap();
    let coh = open_rw(&p);
    let h = container::handle(coh).unwrap();
    container::slip(coh, u64::MAX).unwrap();
    while h.cs.compacting.load(std::sync::atomic::Ordering::Acquire) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    container::close(coh).unwrap();
    gone(h);
    let (_, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    let oh = object::open(coh, oid(1), DAOS_OBJ_RO).unwrap();
    let v = read(oh, u64::MAX, 0, 12288).unwrap();
    assert_eq!(&v[..4096], &[b'A'; 4096][..]);
    assert_eq!(&v[4096..8192], &[0u8; 4096][..], "the punch survives compaction and replay");
    assert_eq!(&v[8192..], &[b'A'; 4096][..]);
    container::close(coh).unwrap();
}

#[test]
fn a_container_replaced_meanwhile_is_never_overwritten() {
    let st = TempStore::new("replaced");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    // Another process unlinks it (leaving the unlink marker, then removing
    // the file) and makes a new container at the same path.
    let m = container::registry::unlinked_marker(&st.0, container::handle(coh).unwrap().cs.uuid);
    std::fs::create_dir_all(m.parent().unwrap()).unwrap();
    std::fs::write(&m, b"unlinked").unwrap();
    std::fs::remove_file(&p).unwrap();
    let other = open_rw(&p);
    let before = std::fs::read(&p).unwrap();
    let oh = object::open(coh, oid(1), DAOS_OBJ_RW).unwrap();
    write(oh, 2, 0, &mut [7u8; 10]);
    container::commit(coh, 2, false).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), before, "the new container's file is untouched");
    assert_eq!(read(oh, 2, 0, 10).unwrap(), vec![7u8; 10], "the old handle keeps working");
    container::close(coh).unwrap();
    container::close(other).unwrap();
    // Moved away without an unlink, a change is refused rather than lost.
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    std::fs::rename(&p, st.path("moved")).unwrap();
    assert_eq!(container::commit(a, 2, false).err().map(|e| e.1.errno()), Some(libc::ENOENT));
    container::close(a).unwrap();
}

#[test]
fn independent_writers_commit_only_their_own_and_lose_epochs_others_committed() {
    let st = TempStore::new("indep");
    let p = st.path("c");
    let a = open_rw(&p);
    let mut ids = [-1];
    container::shard_add(a, 1, &[0], &mut ids).unwrap();
    container::commit(a, 1, false).unwrap();
    let b = open_rw(&p);
    let oa = object::open(a, oid(1), DAOS_OBJ_RW).unwrap();
    let ob = object::open(b, oid(2), DAOS_OBJ_RW).unwrap();
    let oc = object::open(b, oid(3), DAOS_OBJ_RW).unwrap();
    write(oa, 5, 0, &mut [0xAA; 4096]);
    write(ob, 5, 0, &mut [0xBB; 4096]);
    write(oc, 6, 0, &mut [0xCC; 4096]);
    // A commits 5: its writes only. B's write in 5 can never be committed.
    container::commit(a, 5, false).unwrap();
    assert_eq!(read(oa, 5, 0, 8).unwrap(), vec![0xAA; 8]);
    assert_eq!(read(ob, u64::MAX, 0, 8).unwrap(), vec![0; 8], "B's write in epoch 5 is gone");
    assert_eq!(read(oc, u64::MAX, 0, 8).unwrap(), vec![0xCC; 8], "B's write in epoch 6 is still staged");
    // B's commit of an epoch <= HCE commits nothing, but says that B's
    // write in epoch 5 was dropped (once); of 6 publishes its epoch-6 write only.
    let stale = container::commit(b, 4, false).unwrap_err();
    assert_eq!(stale.1.errno(), libc::ESTALE, "{:?}", stale);
    assert!(stale.1.to_string().contains("epoch(s) 5 "), "{}", stale.1);
    container::commit(b, 4, false).unwrap();
    container::commit(b, 6, false).unwrap();
    assert_eq!(container::query_epoch(b).unwrap().epi_hce.seq, 6);
    // On disk, the published range of B's journal voids its epoch-5 record
    // (a reader replaying it must not see it; compaction may also drop it).
    match container::meta::Meta::load(&p).unwrap() {
        container::meta::Loaded::Ok(m) => {
            assert!(m.voids.iter().any(|v| v.epoch == 0 && v.hi == 5), "voids: {:?}", m.voids)
        }
        _ => panic!("container file unreadable"),
    }
    let last = container::handle(b).unwrap();
    for h in [a, b] {
        container::close(h).unwrap();
    }
    gone(last);
    let (_, r) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    let check = |lo: u64, e: u64, want: u8| {
        let o = object::open(r, oid(lo), DAOS_OBJ_RO).unwrap();
        assert_eq!(read(o, e, 0, 4096).unwrap(), vec![want; 4096], "object {lo} at {e}");
    };
    check(1, 6, 0xAA);
    check(2, 6, 0);
    check(2, 5, 0);
    check(3, 6, 0xCC);
    container::close(r).unwrap();
}

/// Opens `p` with a state of its own, as another process would.
fn open_elsewhere(p: &Path, mode: u32) -> u64 {
    container::open_as(p, mode, 1, false).unwrap().1
}

fn wait_compacted(h: &container::CoHandle) {
    while h.cs.compacting.load(std::sync::atomic::Ordering::Acquire) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn dat_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    v.sort();
    v
}

fn pattern(e: u64, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u64 * 31 + e * 7) as u8).collect()
}

#[test]
fn stamps_of_two_processes_never_collide() {
    let st = TempStore::new("stamps");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    container::commit(a, 1, false).unwrap();
    // Opened at the same time, so both count stamps from the same start.
    let b = open_elsewhere(&p, DAOS_COO_RW);
    let ha = container::handle(a).unwrap();
    let hb = container::handle(b).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&ha.cs, &hb.cs));
    let (sa, sb) = (ha.cs.next_stamp().unwrap(), hb.cs.next_stamp().unwrap());
    assert_ne!(sa, sb);
    assert_eq!(sa >> 20, sb >> 20, "the same counter: only the slot tells them apart");
    // The same offset, in two epochs.
    let oa = object::open(a, oid(5), DAOS_OBJ_RW).unwrap();
    write(oa, 2, 0, &mut pattern(2, 4096));
    container::commit(a, 2, false).unwrap();
    let ob = object::open(b, oid(5), DAOS_OBJ_RW).unwrap();
    write(ob, 3, 0, &mut pattern(3, 4096));
    container::commit(b, 3, false).unwrap();
    // Every reader sees each at its epoch: those that catch up (at a query),
    // and one that replays.
    container::query_epoch(a).unwrap();
    container::query_epoch(b).unwrap();
    let c = open_elsewhere(&p, DAOS_COO_RO);
    let oc = object::open(c, oid(5), DAOS_OBJ_RO).unwrap();
    for (who, oh) in [("a", oa), ("b", ob), ("a new reader", oc)] {
        assert!(read(oh, 2, 0, 4096).unwrap() == pattern(2, 4096), "{who} reads epoch 2");
        assert!(read(oh, 3, 0, 4096).unwrap() == pattern(3, 4096), "{who} reads epoch 3");
    }
    for h in [c, b, a] {
        container::close(h).unwrap();
    }
}

#[test]
fn a_reader_in_another_process_keeps_its_epoch_through_aggregation() {
    const N: usize = 256 * 1024;
    let st = TempStore::new("reader");
    let p = st.path("c");
    let w = open_rw(&p);
    container::shard_add(w, 1, &[0], &mut [-1]).unwrap();
    let ow = object::open(w, oid(3), DAOS_OBJ_RW).unwrap();
    // (Overwrites in epoch 1, which nobody reads once epoch 2 is the oldest:
    // most of the segment becomes garbage, so it is compacted.)
    for _ in 0..10 {
        write(ow, 1, 0, &mut pattern(1, N));
    }
    for e in 1..=2u64 {
        write(ow, e, 0, &mut pattern(e, N));
        container::commit(w, e, false).unwrap();
    }
    // Another process reads at epoch 2.
    let r = open_elsewhere(&p, DAOS_COO_RO);
    assert_eq!(container::query_epoch(r).unwrap().epi_hce_slipped.seq, 2);
    for e in 3..=8u64 {
        write(ow, e, 0, &mut pattern(e, N));
        container::commit(w, e, false).unwrap();
    }
    container::close(w).unwrap();
    let before = match container::meta::Meta::load(&p).unwrap() {
        container::meta::Loaded::Ok(m) => m,
        _ => panic!("metadata"),
    };
    // A dead process's registration (no lock held) holds nothing back.
    let hr = container::handle(r).unwrap();
    std::fs::write(hr.cs.reg_dir.join("1-dead"), 0u64.to_le_bytes()).unwrap();

    let w = open_rw(&p);
    let hw = container::handle(w).unwrap();
    let dir = hw.cs.shard(0).unwrap().dir.clone();
    let old_files = dat_files(&dir);
    container::slip(w, u64::MAX).unwrap();
    wait_compacted(&hw);
    assert_eq!(container::query_epoch(w).unwrap().epi_hce_oldest.seq, 2, "held at the other process's reference");
    assert!(!hr.cs.reg_dir.join("1-dead").exists(), "a dead process's registration is removed");
    assert!(dat_files(&dir).iter().all(|f| !old_files.contains(f)), "the old segment was compacted away");
    // The reader picks up the compacted segment and still reads epoch 2, byte for byte.
    assert_eq!(container::query_epoch(r).unwrap().epi_hce_oldest.seq, 2);
    let or = object::open(r, oid(3), DAOS_OBJ_RO).unwrap();
    assert!(read(or, 2, 0, N).unwrap() == pattern(2, N));
    assert!(read(or, 5, 0, N).unwrap() == pattern(5, N));
    // So does a process that opens now (it replays the compacted segment)...
    let n = open_elsewhere(&p, DAOS_COO_RO);
    let on = object::open(n, oid(3), DAOS_OBJ_RO).unwrap();
    assert!(read(on, 2, 0, N).unwrap() == pattern(2, N));
    assert_eq!(read(on, 1, 0, 8).map_err(|e| e.errno()), Err(libc::ESTALE));
    container::close(n).unwrap();
    // ... and one that read the metadata before the compaction: the segment it
    // names is gone, so it takes the newer metadata and replays from there.
    let stale = container::build_state(p.clone(), st.0.clone(), store::StoreConf::load(&st.0).unwrap(), before, false, None).unwrap();
    let sh = stale.shard(0).unwrap();
    assert!(sh.check_readable().is_ok(), "not broken by the missing segment");
    assert!(dat_files(&dir).iter().all(|f| !old_files.contains(f)));
    assert_eq!(sh.index.read().len(), 7, "versions 2..8, from the compacted segment");
    drop((sh, stale));

    // Once the reader closes, the oldest epoch moves on.
    container::close(r).unwrap();
    assert_eq!(std::fs::read_dir(&hr.cs.reg_dir).unwrap().count(), 1, "only the writer is registered");
    container::slip(w, u64::MAX).unwrap();
    wait_compacted(&hw);
    assert_eq!(container::query_epoch(w).unwrap().epi_hce_oldest.seq, 8);
    let ow = object::open(w, oid(3), DAOS_OBJ_RO).unwrap();
    assert!(read(ow, 8, 0, N).unwrap() == pattern(8, N));
    container::close(w).unwrap();
}

#[test]
fn a_compaction_that_lost_the_race_leaves_no_trace() {
    const N: usize = 256 * 1024;
    let st = TempStore::new("race");
    let p = st.path("c");
    let w = open_rw(&p);
    container::shard_add(w, 1, &[0], &mut [-1]).unwrap();
    let ow = object::open(w, oid(1), DAOS_OBJ_RW).unwrap();
    for e in 1..=6u64 {
        write(ow, e, 0, &mut pattern(e, N));
        container::commit(w, e, false).unwrap();
    }
    container::close(w).unwrap();
    // Two processes with the container open; each would compact the sealed segment.
    let a = open_rw(&p);
    let b = open_elsewhere(&p, DAOS_COO_RW);
    let (ha, hb) = (container::handle(a).unwrap(), container::handle(b).unwrap());
    let dir = ha.cs.shard(0).unwrap().dir.clone();
    let old = dat_files(&dir);
    container::slip(a, u64::MAX).unwrap();
    wait_compacted(&ha);
    let files = dat_files(&dir);
    assert!(files.len() == 1 && files != old, "compacted by a: {old:?} -> {files:?}");
    let on_disk = std::fs::read(&p).unwrap();
    // `b` decided to aggregate too, before it looked at the metadata again:
    // its compaction finds the segment gone from the metadata, gives up and
    // removes its copy.
    hb.cs.meta.lock().oldest = 6;
    container::epoch::aggregate_indexes(&hb.cs);
    assert_eq!(container::compact::compact(&hb.cs).unwrap(), 0);
    assert_eq!(dat_files(&dir), files, "no second copy is left");
    assert!(std::fs::read(&p).unwrap() == on_disk, "the metadata is untouched");
    container::query_epoch(b).unwrap();
    for (h, o) in [(a, oid(1)), (b, oid(1))] {
        let oh = object::open(h, o, DAOS_OBJ_RO).unwrap();
        assert!(read(oh, 6, 0, N).unwrap() == pattern(6, N));
    }
    container::close(b).unwrap();
    container::close(a).unwrap();
}

#[test]
fn unlink_keeps_the_data_until_the_last_close_in_any_process() {
    let st = TempStore::new("unlink");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    let oa = object::open(a, oid(2), DAOS_OBJ_RW).unwrap();
    write(oa, 1, 0, &mut pattern(1, 10000));
    container::commit(a, 1, false).unwrap();
    let b = open_elsewhere(&p, DAOS_COO_RW);
    let hb = container::handle(b).unwrap();
    let cdir = crate::shard::container_dir(hb.cs.target_dir(0).unwrap(), hb.cs.uuid);
    let (reg_dir, lock) = (hb.cs.reg_dir.clone(), hb.cs.lock_path.clone());
    container::unlink(&p).unwrap();
    assert!(!p.exists());
    assert_eq!(container::open(&p, DAOS_COO_RO, 1).map_err(|e| e.errno()), Err(libc::ENOENT));
    container::close(a).unwrap();
    assert!(cdir.exists(), "open in another process: the data stays");
    // That process keeps reading, writing and committing (in memory).
    let ob = object::open(b, oid(2), DAOS_OBJ_RW).unwrap();
    assert!(read(ob, 1, 0, 10000).unwrap() == pattern(1, 10000));
    write(ob, 2, 100, &mut pattern(2, 50));
    container::commit(b, 2, false).unwrap();
    assert_eq!(container::query_epoch(b).unwrap().epi_hce.seq, 2);
    let v = read(ob, 2, 0, 10000).unwrap();
    assert!(v[100..150] == pattern(2, 50)[..]);
    assert!(v[..100] == pattern(1, 10000)[..100]);
    assert!(!p.exists(), "an unlinked container's changes stay in memory");
    container::close(b).unwrap();
    assert!(!cdir.exists(), "the last close removes the data");
    assert!(!reg_dir.exists() && !lock.exists());
}

#[test]
fn a_layout_change_read_under_the_lock_is_adopted_at_once() {
    let st = TempStore::new("layout-upd");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    container::commit(a, 1, false).unwrap();
    let b = open_elsewhere(&p, DAOS_COO_RW);
    container::shard_add(b, 2, &[1], &mut [5]).unwrap();
    // A's next metadata update starts from the file, which has shard 5: the
    // shard is usable at once, without a refresh.
    let ha = container::handle(a).unwrap();
    ha.cs.update(|_| Ok(())).unwrap();
    assert!(ha.cs.shard(5).is_some(), "shard added elsewhere is known after the update");
    let o = object::open(a, daos_obj_id_t { o_id_hi: 5, o_id_lo: 1 }, DAOS_OBJ_RW).unwrap();
    write(o, 3, 0, &mut [9u8; 100]);
    container::commit(a, 3, false).unwrap();
    assert_eq!(read(o, 3, 0, 100).unwrap(), vec![9u8; 100]);
    drop(ha);
    container::close(b).unwrap();
    container::close(a).unwrap();
}

#[test]
fn only_daos_container_unlink_lets_the_data_go() {
    let st = TempStore::new("mv");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    let o = object::open(a, oid(1), DAOS_OBJ_RW).unwrap();
    write(o, 2, 0, &mut [7u8; 4096]);
    container::commit(a, 2, false).unwrap();
    let uuid = container::handle(a).unwrap().cs.uuid;
    let cdir = crate::shard::container_dir(&st.0.join(".daos").join("targets").join("0"), uuid);
    assert!(cdir.exists(), "{}", cdir.display());
    // Renamed while open: the data stays, and the renamed container reads it.
    let q = st.path("moved");
    std::fs::rename(&p, &q).unwrap();
    let h = container::handle(a).unwrap();
    container::close(a).unwrap();
    gone(h);
    assert!(cdir.exists(), "a renamed container keeps its data");
    let (_, r) = container::open(&q, DAOS_COO_RO, 1).unwrap();
    let o = object::open(r, oid(1), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(o, 2, 0, 4096).unwrap(), vec![7u8; 4096]);
    container::close(r).unwrap();
    // An unlink marker left by a process that died with it open is swept
    // by the next open or unlink in the store.
    let m = container::registry::unlinked_marker(&st.0, uuid);
    std::fs::create_dir_all(m.parent().unwrap()).unwrap();
    std::fs::write(&m, b"unlinked").unwrap();
    std::fs::remove_file(&q).unwrap();
    let _ = container::open(&st.path("other"), DAOS_COO_RW | DAOS_COO_CREATE, 1).map(|(_, h)| container::close(h));
    assert!(!cdir.exists() && !m.exists(), "swept");
}

#[test]
fn an_unlink_killed_before_removing_the_file_keeps_the_container() {
    let st = TempStore::new("unlk");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    let o = object::open(a, oid(1), DAOS_OBJ_RW).unwrap();
    write(o, 2, 0, &mut [9u8; 4096]);
    container::commit(a, 2, false).unwrap();
    let uuid = container::handle(a).unwrap().cs.uuid;
    let h = container::handle(a).unwrap();
    container::close(a).unwrap();
    gone(h);
    // What `daos_container_unlink` leaves when it is killed after writing
    // its marker and before removing the container file.
    let m = container::registry::unlinked_marker(&st.0, uuid);
    std::fs::create_dir_all(m.parent().unwrap()).unwrap();
    std::fs::write(&m, b"c").unwrap();
    // The next open in the store sweeps unlinked containers: this one's file
    // is still there, so its data stays (it was removed: -EIO at the read).
    let _ = container::open(&st.path("other"), DAOS_COO_RW | DAOS_COO_CREATE, 1).map(|(_, h)| container::close(h));
    assert!(!m.exists(), "the marker of the unlink cut short is dropped");
    let (_, r) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    let o = object::open(r, oid(1), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(o, 2, 0, 4096).unwrap(), vec![9u8; 4096]);
    container::close(r).unwrap();
    // A real unlink then lets it go.
    container::unlink(&p).unwrap();
    let cdir = crate::shard::container_dir(&st.0.join(".daos").join("targets").join("0"), uuid);
    assert!(!cdir.exists() && !m.exists());
}

#[test]
fn writes_ahead_of_a_commit_are_not_committed_by_another_writer() {
    let st = TempStore::new("ahead");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    container::commit(a, 1, false).unwrap();
    let b = open_elsewhere(&p, DAOS_COO_RW);
    let oa = object::open(a, oid(1), DAOS_OBJ_RW).unwrap();
    write(oa, 5, 0, &mut [5u8; 100]);
    write(oa, 6, 100, &mut [6u8; 100]);
    // A's commit of 5 publishes its journal, epoch-6 record included.
    container::commit(a, 5, false).unwrap();
    // B commits 6: A never committed its epoch-6 write, so 6 does not show it.
    let ob = object::open(b, oid(2), DAOS_OBJ_RW).unwrap();
    write(ob, 6, 0, &mut [0xB6; 10]);
    container::commit(b, 6, false).unwrap();
    let r = open_elsewhere(&p, DAOS_COO_RO);
    let or = object::open(r, oid(1), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(or, 6, 0, 200).unwrap(), [vec![5u8; 100], vec![0u8; 100]].concat());
    // A sees it too (after catching up), and its later commit does not revive it.
    container::slip(a, 6).unwrap();
    assert_eq!(read(oa, u64::MAX, 100, 100).unwrap(), vec![0u8; 100]);
    write(oa, 7, 200, &mut [7u8; 100]);
    // The commit of 7 is made, and says that the epoch-6 write was dropped.
    assert_eq!(container::commit(a, 7, false).err().map(|e| e.1.errno()), Some(libc::ESTALE));
    assert_eq!(container::query_epoch(a).unwrap().epi_hce.seq, 7);
    let r2 = open_elsewhere(&p, DAOS_COO_RO);
    let o2 = object::open(r2, oid(1), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(o2, 7, 0, 300).unwrap(), [vec![5u8; 100], vec![0u8; 100], vec![7u8; 100]].concat());
    for h in [a, b, r, r2] {
        container::close(h).unwrap();
    }
}

#[test]
fn holds_give_distinct_epochs_and_keep_hce_below_them() {
    let st = TempStore::new("hold");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    container::commit(a, 1, false).unwrap();
    let b = open_elsewhere(&p, DAOS_COO_RW);
    let c = open_elsewhere(&p, DAOS_COO_RW);
    let ea = container::hold::hold(a, 0).unwrap();
    let eb = container::hold::hold(b, 0).unwrap();
    assert_eq!((ea, eb), (2, 3), "distinct epochs above HCE");
    assert_eq!(container::hold::query(c).unwrap(), (2, u64::MAX));
    assert_eq!(container::hold::query(b).unwrap(), (2, 3));
    let oa = object::open(a, oid(1), DAOS_OBJ_RW).unwrap();
    let ob = object::open(b, oid(2), DAOS_OBJ_RW).unwrap();
    write(oa, ea, 0, &mut [0xAA; 64]);
    write(ob, eb, 0, &mut [0xBB; 64]);
    // B commits first: durable, but HCE stays below A's hold; C does not see it.
    container::commit(b, eb, false).unwrap();
    let q = container::query_epoch(c).unwrap();
    assert_eq!((q.epi_hce.seq, q.epi_hse.seq), (1, 3));
    let oc = object::open(c, oid(2), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oc, u64::MAX, 0, 4).unwrap(), vec![0; 4]);
    // A new hold lands above the pending commit.
    assert_eq!(container::hold::hold(c, 0).unwrap(), 4);
    container::hold::hold(c, u64::MAX).unwrap();
    // A commits its epoch: HCE moves past both, both objects are visible.
    container::commit(a, ea, false).unwrap();
    assert_eq!(container::query_epoch(c).unwrap().epi_hce.seq, 3);
    assert_eq!(read(oc, u64::MAX, 0, 4).unwrap(), vec![0xBB; 4]);
    let oc1 = object::open(c, oid(1), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oc1, 3, 0, 4).unwrap(), vec![0xAA; 4]);
    assert_eq!(container::hold::query(c).unwrap(), (u64::MAX, u64::MAX));
    // A release, and a close, free a hold the same way.
    let ea = container::hold::hold(a, 0).unwrap();
    let eb = container::hold::hold(b, 0).unwrap();
    write(ob, eb, 64, &mut [0xB2; 8]);
    container::commit(b, eb, false).unwrap();
    assert_eq!(container::query_epoch(c).unwrap().epi_hce.seq, 3);
    container::hold::hold(a, u64::MAX).unwrap();
    assert_eq!(container::query_epoch(c).unwrap().epi_hce.seq, eb);
    let eb2 = container::hold::hold(b, 0).unwrap();
    write(oa, eb2 + 1, 64, &mut [0xA2; 8]);
    container::commit(a, eb2 + 1, false).unwrap();
    assert_eq!(container::query_epoch(c).unwrap().epi_hce.seq, eb);
    container::close(b).unwrap();
    assert_eq!(container::query_epoch(c).unwrap().epi_hce.seq, eb2 + 1);
    let _ = ea;
    for h in [a, c] {
        container::close(h).unwrap();
    }
}

#[test]
fn a_shard_added_while_a_commit_waits_behind_a_hold_does_not_hold_hce_back() {
    let st = TempStore::new("hold-add");
    let p = st.path("c");
    let a = open_rw(&p);
    container::shard_add(a, 1, &[0], &mut [-1]).unwrap();
    container::commit(a, 1, false).unwrap();
    let b = open_elsewhere(&p, DAOS_COO_RW);
    let ea = container::hold::hold(a, 0).unwrap();
    let ob = object::open(b, oid(1), DAOS_OBJ_RW).unwrap();
    write(ob, ea + 1, 0, &mut [0xBB; 16]);
    container::commit(b, ea + 1, false).unwrap();
    assert_eq!(container::query_epoch(b).unwrap().epi_hce.seq, ea - 1);
    container::shard_add(b, ea + 1, &[0], &mut [-1]).unwrap();
    container::commit(a, ea, false).unwrap();
    let q = container::query_epoch(b).unwrap();
    assert_eq!((q.epi_hce.seq, q.epi_hse.seq), (ea + 1, ea + 1));
    assert_eq!(container::status_of(&container::handle(b).unwrap().cs), DAOS_CONTAINER_ST_OK);
    assert_eq!(read(ob, u64::MAX, 0, 4).unwrap(), vec![0xBB; 4]);
    for h in [a, b] {
        container::close(h).unwrap();
    }
}

#[test]
fn a_peer_writes_to_a_shard_it_added_and_the_master_commits_it() {
    let st = TempStore::new("peer-shard");
    let path = st.path("c");
    let (_, m) = container::open(&path, DAOS_COO_RW | DAOS_COO_CREATE, 2).unwrap();
    container::shard_add(m, 1, &[0], &mut [-1]).unwrap();
    container::commit(m, 1, false).unwrap();
    let g = container::collective::local2global(m).unwrap();
    // A peer with a state of its own, as in another process.
    let p = container::collective::global2local_as(&g, 0, false).unwrap();
    container::shard_add(p, 2, &[0], &mut [9]).unwrap();
    let o = object::open(p, daos_obj_id_t { o_id_hi: 9, o_id_lo: 4 }, DAOS_OBJ_RW).unwrap();
    write(o, 2, 0, &mut [0x5A; 5000]);
    container::flush(p, None).unwrap();
    container::commit(m, 2, false).unwrap();
    let o2 = object::open(m, daos_obj_id_t { o_id_hi: 9, o_id_lo: 4 }, DAOS_OBJ_RO).unwrap();
    assert_eq!(read(o2, 2, 0, 5000).unwrap(), vec![0x5A; 5000]);
    container::close(p).unwrap();
    container::close(m).unwrap();
}


/// Rewrites every journal in `dir` in the first format (version 1 header
/// and records), as a store written before journal version 2 holds it.
fn downgrade_journals(dir: &Path, shard: u32) {
    use crate::shard::journal::{self, Parsed};
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if !p.extension().is_some_and(|x| x == "jnl") {
            continue;
        }
        let seg = u64::from_str_radix(p.file_stem().unwrap().to_str().unwrap(), 16).unwrap();
        let b = std::fs::read(&p).unwrap();
        let uuid = [u64::from_le_bytes(b[12..20].try_into().unwrap()), u64::from_le_bytes(b[20..28].try_into().unwrap())];
        let mut out = journal::file_header_v1(uuid, shard, seg);
        let mut pos = journal::HEADER as usize;
        while let Some((Parsed::Ok(mut r, crcs), n)) = journal::parse(&b[pos..], journal::JNL_VERSION) {
            r.crcs = crcs.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            r.encode_v1(&mut out);
            pos += n;
        }
        assert_eq!(pos, b.len(), "the journal was whole");
        assert_eq!(out.len(), b.len(), "a version 1 record has the same size");
        std::fs::write(&p, &out).unwrap();
    }
}

#[test]
fn version_1_journals_are_read_and_their_damage_is_eio() {
    let st = TempStore::new("jv1");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(3), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 0, &mut pattern(1, 9000));
    container::commit(coh, 1, true).unwrap();
    write(oh, 2, 100, &mut pattern(2, 50));
    run_op(None, object::punch(coh, 2, oid(3), 5000, 6000).unwrap().unwrap()).unwrap();
    container::commit(coh, 2, false).unwrap();
    let h = container::handle(coh).unwrap();
    let dir = h.cs.shard(0).unwrap().dir.clone();
    container::close(coh).unwrap();
    gone(h);
    downgrade_journals(&dir, 0);
    let mut want = pattern(1, 9000);
    want[100..150].copy_from_slice(&pattern(2, 50));
    want[5000..6000].fill(0);
    let (status, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    assert_eq!(status, DAOS_CONTAINER_ST_OK);
    let oh = object::open(coh, oid(3), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oh, 2, 0, 9000).unwrap(), want, "a version 1 journal replays");
    assert_eq!(read(oh, 1, 0, 9000).unwrap(), pattern(1, 9000));
    let h = container::handle(coh).unwrap();
    container::close(coh).unwrap();
    gone(h);
    // Damage in a version 1 record (its one checksum covers everything):
    // the shard reads as -EIO, never as if the record were not there.
    let jnl = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "jnl")).unwrap();
    let mut b = std::fs::read(&jnl).unwrap();
    b[journal_rec(1) + 20] ^= 1;
    std::fs::write(&jnl, &b).unwrap();
    let (_, coh) = container::open(&p, DAOS_COO_RO, 1).unwrap();
    let oh = object::open(coh, oid(3), DAOS_OBJ_RO).unwrap();
    assert_eq!(read(oh, 2, 0, 9000).map_err(|e| e.errno()), Err(libc::EIO));
    assert_eq!(read(oh, 1, 0, 9000).map_err(|e| e.errno()), Err(libc::EIO));
    container::close(coh).unwrap();
}

/// Offset of record `i` in a journal of 9000-byte writes and punches (the
/// first record: 3 chunk checksums).
fn journal_rec(i: usize) -> usize {
    crate::shard::journal::HEADER as usize + [0, 76][i]
}

/// A commit's record left pending when the machine stopped (its "done"
/// mark not on disk): after the restart the next open keeps the commit if
/// its data is on disk and drops it if not; in the same boot, a pending
/// record is a commit whose writer died before it returned, and is not
/// applied.
#[test]
fn a_commit_pending_at_a_machine_stop_is_kept_only_with_its_data() {
    use std::os::unix::fs::FileExt;
    use crate::container::meta::TEST_BOOT;
    let st = TempStore::new("pending");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(3), DAOS_OBJ_RW).unwrap();
    write(oh, 1, 0, &mut [1u8; 8192]);
    container::commit(coh, 1, false).unwrap();
    write(oh, 2, 0, &mut [2u8; 8192]);
    container::commit(coh, 2, false).unwrap();
    // The file as the commit of epoch 2 left it, its last record marked
    // pending again (as if the mark had not reached the disk).
    let mut file = std::fs::read(&p).unwrap();
    let h = container::handle(coh).unwrap();
    let dir = h.cs.shard(0).unwrap().dir.clone();
    drop(h);
    container::close(coh).unwrap();
    let clen = u32::from_le_bytes(file[12..16].try_into().unwrap()) as usize;
    let mut at = (16 + clen).next_multiple_of(512);
    let mut last = None;
    while &file[at..at + 4] == b"MLOG" || &file[at..at + 4] == b"MLOP" {
        last = Some(at);
        at += 16 + u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    let last = last.expect("the commits were appended to the log");
    file[last..last + 4].copy_from_slice(b"MLOP");
    let dat = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "dat")).unwrap();
    let hce_and_data = |p: &Path| {
        let (_, coh) = container::open(p, DAOS_COO_RO, 1).unwrap();
        let oh = object::open(coh, oid(3), DAOS_OBJ_RO).unwrap();
        let r = (container::query_epoch(coh).unwrap().epi_hce.seq, read(oh, u64::MAX, 0, 8192).unwrap()[0]);
        container::close(coh).unwrap();
        r
    };
    // The same boot: its writer died before the commit returned.
    std::fs::write(&p, &file).unwrap();
    assert_eq!(hce_and_data(&p), (1, 1));
    // After a restart, its data on disk: kept, and settled for every reader.
    std::fs::write(&p, &file).unwrap();
    TEST_BOOT.with(|b| b.set(Some(0x5eed)));
    assert_eq!(hce_and_data(&p), (2, 2));
    TEST_BOOT.with(|b| b.set(None));
    assert_eq!(hce_and_data(&p), (2, 2));
    // After a restart, its data not on disk (its last 4 KiB zeros): dropped.
    std::fs::write(&p, &file).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&dat).unwrap();
    let len = f.metadata().unwrap().len();
    f.write_all_at(&[0u8; 4096], len - 4096).unwrap();
    TEST_BOOT.with(|b| b.set(Some(0x5eed)));
    assert_eq!(hce_and_data(&p), (1, 1));
    TEST_BOOT.with(|b| b.set(None));
    assert_eq!(hce_and_data(&p), (1, 1));
}

/// While a commit's data is flushed, the process's other threads go on:
/// queries and writes check the metadata, whose mutex the commit lets go of
/// during the flush (it keeps the container's file lock).
#[test]
fn other_threads_go_on_while_a_commit_flushes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    let st = TempStore::new("beside");
    let p = st.path("c");
    let coh = open_rw(&p);
    container::shard_add(coh, 1, &[0], &mut [-1]).unwrap();
    let oh = object::open(coh, oid(1), DAOS_OBJ_RW).unwrap();
    let mut big = vec![7u8; 64 << 20];
    write(oh, 1, 0, &mut big);
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let s2 = stop.clone();
    let other = std::thread::spawn(move || {
        // Calls made by another thread, and when each returned.
        let mut done = Vec::new();
        let oh2 = object::open(coh, oid(2), DAOS_OBJ_RW).unwrap();
        while !s2.load(Ordering::Acquire) {
            container::query_epoch(coh).unwrap();
            write(oh2, 2, 0, &mut [1u8; 4096]);
            done.push(t0.elapsed());
        }
        done
    });
    std::thread::sleep(std::time::Duration::from_millis(5));
    let start = t0.elapsed();
    container::commit(coh, 1, false).unwrap();
    let end = t0.elapsed();
    stop.store(true, Ordering::Release);
    let done = other.join().unwrap();
    // A commit that took long enough to tell: the other thread's calls
    // returned all through it (with the mutex held through the flush, none
    // returned after its first moments).
    if end - start > std::time::Duration::from_millis(20) {
        let from = start + (end - start) / 4;
        let n = done.iter().filter(|&&t| t > from && t < end).count();
        assert!(n >= 3, "{n} calls of the other thread returned in the last three quarters of a {:?} commit", end - start);
    }
    container::close(coh).unwrap();
}
