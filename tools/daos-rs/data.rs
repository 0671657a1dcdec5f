//! Container, shard, object and epoch commands, through the C API.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use daos_rs::ffi::types::*;

use crate::api::{container_create, container_unlink, Container, Fail, Res, HIGHEST};
use crate::progress::Progress;
use crate::store::{loc_text, status_text, type_text};
use crate::{usage_error, ContainerCmd, Ctx, EpochCmd, ObjectCmd, ShardCmd};

/// Chunk of object I/O.
const CHUNK: usize = 1 << 20;
/// Transfers at least this large get a progress bar.
const BAR_MIN: u64 = 4 * CHUNK as u64;

fn status_name(s: daos_container_status_t) -> &'static str {
    match s {
        DAOS_CONTAINER_ST_OK => "OK",
        DAOS_CONTAINER_ST_STUCK => "STUCK",
        DAOS_CONTAINER_ST_FAULTY => "FAULTY",
        DAOS_CONTAINER_ST_CORRUPT => "CORRUPT",
        _ => "unknown",
    }
}

/// The epoch to write: the given one, or HCE + 1.
fn write_epoch(c: &Container, given: Option<u64>) -> Res<u64> {
    match given {
        Some(e) => Ok(e),
        None => Ok(c.hce()? + 1),
    }
}

pub fn container(_ctx: &Ctx, cmd: ContainerCmd) -> Res<()> {
    match cmd {
        ContainerCmd::Create { path } => {
            container_create(&path)?;
            println!("created {}", path.display());
        }
        ContainerCmd::Query { path } => {
            let c = Container::ro(&path)?;
            let (_, info) = c.query(HIGHEST)?;
            let e = c.epoch_query()?;
            println!("path: {}", c.path);
            println!("status: {}", status_name(c.status));
            println!("uid: {}", info.ci_uid);
            println!("gid: {}", info.ci_gid);
            println!("shards: {}", info.ci_nshard);
            println!("stuck: {}", info.ci_nshard_stuck);
            println!("disabled: {}", info.ci_nshard_disabled);
            print_epochs(&e);
        }
        ContainerCmd::ListShards { path, stuck, disabled } => {
            let opc = if stuck {
                DAOS_SHARD_LS_STUCK
            } else if disabled {
                DAOS_SHARD_LS_DISABLED
            } else {
                DAOS_SHARD_LS_ALL
            };
            let ids = Container::ro(&path)?.list_shards(opc)?;
            let mut out = String::new();
            for id in ids {
                out += &format!("{id}\n");
            }
            print!("{out}");
        }
        ContainerCmd::Snapshot { path, snapshot, epoch } => {
            let c = Container::ro(&path)?;
            let e = match epoch {
                Some(e) => e,
                None => c.hce()?,
            };
            c.snapshot(e, &snapshot)?;
            println!("snapshot {} of {} at epoch {e}", snapshot.display(), c.path);
        }
        ContainerCmd::Unlink { path } => {
            container_unlink(&path)?;
            println!("unlinked {}", path.display());
        }
    }
    Ok(())
}

fn print_epochs(e: &daos_epoch_info) {
    println!("hce: {}", e.epi_hce.seq);
    println!("hse: {}", e.epi_hse.seq);
    println!("oldest: {}", e.epi_hce_oldest.seq);
    println!("slipped: {}", e.epi_hce_slipped.seq);
    println!("layout-changed: {}", e.epi_layout_changed.seq);
}

pub fn shard(_ctx: &Ctx, cmd: ShardCmd) -> Res<()> {
    match cmd {
        ShardCmd::Add { container, targets, ids, epoch } => {
            if !ids.is_empty() && ids.len() != targets.len() {
                usage_error(&["shard", "add"], format!("{} --id for {} --target: give one per target, or none", ids.len(), targets.len()));
            }
            let c = Container::rw(&container)?;
            let e = write_epoch(&c, epoch)?;
            let want: Vec<i32> = if ids.is_empty() { vec![-1; targets.len()] } else { ids.iter().map(|&i| i as i32).collect() };
            let (made, r) = c.shard_add(e, &targets, &want);
            for (id, t) in made.iter().zip(&targets) {
                if *id >= 0 {
                    println!("{id} {t}");
                }
            }
            r?;
            c.close()?;
        }
        ShardCmd::Disable { container, shards, epoch } => {
            let c = Container::rw(&container)?;
            let e = write_epoch(&c, epoch)?;
            let want: Vec<i32> = shards.iter().map(|&i| i as i32).collect();
            let (done, r) = c.shard_disable(e, &want);
            for id in done.iter().filter(|&&i| i >= 0) {
                println!("shard {id} disabled");
            }
            r?;
            c.close()?;
        }
        ShardCmd::Query { container, shard, epoch } => {
            let c = Container::ro(&container)?;
            let (e, i) = c.shard_query(epoch.unwrap_or(HIGHEST), shard)?;
            println!("shard: {shard}");
            println!("epoch: {e}");
            println!("target: {}", i.sai_target);
            println!("type: {}", type_text(i.sai_type));
            println!("status: {}", status_text(i.sai_status));
            println!("location: {}", loc_text(&i.sai_location));
            println!("objects: {}", i.sai_space.sai_nobjs);
            println!("used: {}", i.sai_space.sai_used);
        }
        ShardCmd::ListObj { container, shard, epoch } => {
            let c = Container::ro(&container)?;
            let objs = c.list_obj(epoch.unwrap_or(HIGHEST), shard)?;
            let mut out = String::new();
            for o in objs {
                out += &format!("{o}\n");
            }
            print!("{out}");
        }
    }
    Ok(())
}

/// Reads until `buf` is full or end of input; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The size of stdin when it is a regular file (for the progress bar).
fn stdin_size() -> Option<u64> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let md = std::fs::File::from(fd).metadata().ok()?;
    md.is_file().then_some(md.len())
}

pub fn object(ctx: &Ctx, cmd: ObjectCmd) -> Res<()> {
    match cmd {
        ObjectCmd::Put { container, shard, obj, offset, epoch, no_commit } => {
            let c = Container::rw(&container)?;
            let e = write_epoch(&c, epoch)?;
            let o = c.object(shard, obj, DAOS_OBJ_RW)?;
            let total = stdin_size();
            let mut bar = Progress::new(ctx.progress && total.map_or(true, |t| t >= BAR_MIN), "put", total, true);
            let mut buf = vec![0u8; CHUNK];
            let mut stdin = std::io::stdin().lock();
            let mut done: u64 = 0;
            loop {
                let n = fill(&mut stdin, &mut buf).map_err(|err| Fail::io("object put: read stdin", &err))?;
                if n == 0 {
                    break;
                }
                let at = offset.checked_add(done).ok_or_else(|| Fail::new("object put: offset", libc::EINVAL))?;
                o.write(e, at, &buf[..n])?;
                done += n as u64;
                bar.set(done, false);
            }
            bar.finish(done);
            drop(o);
            if !no_commit {
                c.commit(e, false)?;
            }
            c.close()?;
            let state = if no_commit { "not committed" } else { "committed" };
            println!("wrote {done} bytes to {shard} {obj} at offset {offset}, epoch {e} ({state})");
        }
        ObjectCmd::Get { container, shard, obj, offset, length, epoch } => {
            let c = Container::ro(&container)?;
            let e = match epoch {
                Some(e) => e,
                None => c.hce()?,
            };
            if offset.checked_add(length).is_none() {
                return Err(Fail::new("object get: offset + length", libc::EINVAL));
            }
            let o = c.object(shard, obj, DAOS_OBJ_RO)?;
            let mut bar = Progress::new(ctx.progress && length >= BAR_MIN, "get", Some(length), true);
            let mut buf = vec![0u8; CHUNK.min(length as usize)];
            let mut out = std::io::stdout().lock();
            let mut done: u64 = 0;
            while done < length {
                let n = (length - done).min(CHUNK as u64) as usize;
                o.read(e, offset + done, &mut buf[..n])?;
                out.write_all(&buf[..n]).map_err(|err| Fail::io("object get: write stdout", &err))?;
                done += n as u64;
                bar.set(done, false);
            }
            out.flush().map_err(|err| Fail::io("object get: write stdout", &err))?;
            bar.finish(done);
        }
        ObjectCmd::Punch { container, shard, obj, begin, end, epoch, no_commit } => {
            let c = Container::rw(&container)?;
            let e = write_epoch(&c, epoch)?;
            let end = end.unwrap_or(u64::MAX);
            c.punch(e, shard, obj, begin, end)?;
            if !no_commit {
                c.commit(e, false)?;
            }
            c.close()?;
            let range = if end == u64::MAX { format!("[{begin}, end)") } else { format!("[{begin}, {end})") };
            let state = if no_commit { "not committed" } else { "committed" };
            println!("punched {range} of {shard} {obj} at epoch {e} ({state})");
        }
    }
    Ok(())
}

pub fn epoch(_ctx: &Ctx, cmd: EpochCmd) -> Res<()> {
    match cmd {
        EpochCmd::Query { container } => {
            let c = Container::ro(&container)?;
            print_epochs(&c.epoch_query()?);
        }
        EpochCmd::Commit { container, epoch, sync } => {
            let c = Container::rw(&container)?;
            c.commit(epoch, sync)?;
            let hce = c.hce()?;
            c.close()?;
            println!("hce: {hce}");
        }
        EpochCmd::Abort { container, epoch } => {
            let c = Container::rw(&container)?;
            c.abort(epoch)?;
            c.close()?;
            println!("aborted epochs >= {epoch}");
        }
    }
    Ok(())
}
