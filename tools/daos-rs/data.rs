//! Container, shard, object and epoch commands, through the C API.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use daos_rs::abi::types::*;
use serde_json::{json, Value};

use crate::api::{container_create, container_unlink, Container, Fail, Res, HIGHEST};
use crate::lines;
use crate::progress::{human, Progress};
use crate::report::Report;
use crate::store::{loc_json, loc_text, status_json, status_text, type_text};
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

/// The epoch a put or punch writes at: the given one, or an epoch this
/// handle holds (`daos_epoch_hold`), so that concurrent writers, each with
/// its own epoch that no other commit can close first, never lose data.
/// (With an epoch given, a commit that another writer's commit overtook
/// fails with ESTALE instead.)
fn data_epoch(c: &Container, given: Option<u64>) -> Res<u64> {
    match given {
        Some(e) => Ok(e),
        None => c.hold(0),
    }
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

pub fn container(_ctx: &Ctx, cmd: ContainerCmd) -> Res<Report> {
    match cmd {
        ContainerCmd::Create { path, no_checksums } => {
            container_create(&path, !no_checksums)?;
            Ok(Report::new(lines!["created {}", path.display()], json!({"path": shown(&path)})))
        }
        ContainerCmd::Query { path } => {
            let c = Container::ro(&path)?;
            let (_, info) = c.query(HIGHEST)?;
            let e = c.epoch_query()?;
            let checksums = c.checksums()?;
            let mut text = lines![
                "path: {}", c.path;
                "status: {}", status_name(c.status);
                "uid: {}", info.ci_uid;
                "gid: {}", info.ci_gid;
                "shards: {}", info.ci_nshard;
                "stuck: {}", info.ci_nshard_stuck;
                "disabled: {}", info.ci_nshard_disabled;
                "checksums: {}", if checksums { "on" } else { "off" };
            ];
            text += &epochs_text(&e);
            Ok(Report::new(
                text,
                json!({
                    "path": c.path, "status": status_name(c.status), "uid": info.ci_uid, "gid": info.ci_gid,
                    "shards": info.ci_nshard, "stuck": info.ci_nshard_stuck,
                    "disabled": info.ci_nshard_disabled, "checksums": checksums, "epochs": epochs_json(&e),
                }),
            ))
        }
        ContainerCmd::ListShards { path, stuck, disabled } => {
            let (opc, which) = if stuck {
                (DAOS_SHARD_LS_STUCK, "stuck")
            } else if disabled {
                (DAOS_SHARD_LS_DISABLED, "disabled")
            } else {
                (DAOS_SHARD_LS_ALL, "all")
            };
            let ids = Container::ro(&path)?.list_shards(opc)?;
            let text: String = ids.iter().map(|id| format!("shard {id}\n")).collect();
            Ok(Report::new(text, json!({"path": shown(&path), "which": which, "shards": ids})))
        }
        ContainerCmd::Snapshot { path, snapshot, epoch } => {
            let c = Container::ro(&path)?;
            let e = match epoch {
                Some(e) => e,
                None => c.hce()?,
            };
            c.snapshot(e, &snapshot)?;
            Ok(Report::new(
                lines!["snapshot {} of {} at epoch {e}", snapshot.display(), c.path],
                json!({"path": c.path, "snapshot": shown(&snapshot), "epoch": e}),
            ))
        }
        ContainerCmd::Unlink { path } => {
            container_unlink(&path)?;
            Ok(Report::new(lines!["unlinked {}", path.display()], json!({"path": shown(&path)})))
        }
    }
}

fn epochs_text(e: &daos_epoch_info) -> String {
    lines![
        "hce: {}", e.epi_hce.seq;
        "hse: {}", e.epi_hse.seq;
        "oldest: {}", e.epi_hce_oldest.seq;
        "slipped: {}", e.epi_hce_slipped.seq;
        "layout-changed: {}", e.epi_layout_changed.seq;
    ]
}

fn epochs_json(e: &daos_epoch_info) -> Value {
    json!({
        "hce": e.epi_hce.seq, "hse": e.epi_hse.seq, "oldest": e.epi_hce_oldest.seq,
        "slipped": e.epi_hce_slipped.seq, "layout_changed": e.epi_layout_changed.seq,
    })
}

pub fn shard(_ctx: &Ctx, cmd: ShardCmd) -> Res<Report> {
    match cmd {
        ShardCmd::Add { container, targets, ids, epoch } => {
            if !ids.is_empty() && ids.len() != targets.len() {
                usage_error(&["shard", "add"], format!("{} --id for {} --target: give one per target, or none", ids.len(), targets.len()));
            }
            let c = Container::rw(&container)?;
            let e = write_epoch(&c, epoch)?;
            let want: Vec<i32> = if ids.is_empty() { vec![-1; targets.len()] } else { ids.iter().map(|&i| i as i32).collect() };
            let (made, r) = c.shard_add(e, &targets, &want);
            let added: Vec<(i32, u32)> = made.iter().zip(&targets).filter(|(id, _)| **id >= 0).map(|(id, t)| (*id, *t)).collect();
            // What was made is worth saying even when the call failed part way.
            if r.is_err() {
                for (id, t) in &added {
                    eprintln!("daos-rs: shard {id} on target {t} was added");
                }
            }
            r?;
            c.close()?;
            let text: String = added.iter().map(|(id, t)| format!("shard {id} on target {t}\n")).collect();
            let list: Vec<Value> = added.iter().map(|(id, t)| json!({"shard": id, "target": t})).collect();
            Ok(Report::new(text, json!({"path": shown(&container), "epoch": e, "shards": list})))
        }
        ShardCmd::Disable { container, shards, epoch } => {
            let c = Container::rw(&container)?;
            let e = write_epoch(&c, epoch)?;
            let want: Vec<i32> = shards.iter().map(|&i| i as i32).collect();
            let (done, r) = c.shard_disable(e, &want);
            let done: Vec<i32> = done.into_iter().filter(|&i| i >= 0).collect();
            if r.is_err() {
                for id in &done {
                    eprintln!("daos-rs: shard {id} was disabled");
                }
            }
            r?;
            c.close()?;
            let text: String = done.iter().map(|id| format!("shard {id} disabled\n")).collect();
            Ok(Report::new(text, json!({"path": shown(&container), "epoch": e, "shards": done})))
        }
        ShardCmd::Query { container, shard, epoch } => {
            let c = Container::ro(&container)?;
            let (e, i) = c.shard_query(epoch.unwrap_or(HIGHEST), shard)?;
            let (status, health) = status_json(i.sai_status);
            Ok(Report::new(
                lines![
                    "shard: {shard}";
                    "epoch: {e}";
                    "target: {}", i.sai_target;
                    "type: {}", type_text(i.sai_type);
                    "status: {}", status_text(i.sai_status);
                    "location: {}", loc_text(&i.sai_location);
                    "objects: {}", i.sai_space.sai_nobjs;
                    "used: {}", human(i.sai_space.sai_used);
                ],
                json!({
                    "path": c.path, "shard": shard, "epoch": e, "target": i.sai_target,
                    "type": type_text(i.sai_type), "status": status, "health": health,
                    "location": loc_json(&i.sai_location), "objects": i.sai_space.sai_nobjs,
                    "used": i.sai_space.sai_used,
                }),
            ))
        }
        ShardCmd::ListObj { container, shard, epoch } => {
            let c = Container::ro(&container)?;
            let e = epoch.unwrap_or(HIGHEST);
            let objs = c.list_obj(e, shard)?;
            let text: String = objs.iter().map(|o| format!("object {o}\n")).collect();
            Ok(Report::new(text, json!({"path": c.path, "shard": shard, "epoch": e, "objects": objs})))
        }
    }
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

fn committed_text(no_commit: bool, visible: bool) -> &'static str {
    if no_commit {
        "not committed"
    } else if visible {
        "committed"
    } else {
        "committed; visible once the lower epochs other writers hold are committed"
    }
}

/// Commits `e` unless `no_commit`; returns whether it is visible (HCE >= `e`).
fn commit_put(c: &Container, e: u64, no_commit: bool) -> Res<bool> {
    if no_commit {
        return Ok(false);
    }
    c.commit(e, false)?;
    Ok(c.hce()? >= e)
}

pub fn object(ctx: &Ctx, cmd: ObjectCmd) -> Res<Report> {
    match cmd {
        ObjectCmd::Put { container, shard, obj, offset, epoch, no_commit } => {
            let c = Container::rw(&container)?;
            let e = data_epoch(&c, epoch)?;
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
            let visible = commit_put(&c, e, no_commit)?;
            c.close()?;
            Ok(Report::new(
                lines![
                    "wrote {} to object {obj} of shard {shard} at offset {offset}, epoch {e} ({})",
                    human(done), committed_text(no_commit, visible)
                ],
                json!({
                    "path": shown(&container), "shard": shard, "object": obj, "offset": offset,
                    "bytes": done, "epoch": e, "committed": !no_commit,
                }),
            ))
        }
        ObjectCmd::Get { container, shard, obj, offset, length, epoch, output } => {
            if ctx.json && output.is_none() {
                usage_error(&["object", "get"], "--json needs -o FILE: without it the object's bytes go to stdout");
            }
            let c = Container::ro(&container)?;
            let e = match epoch {
                Some(e) => e,
                None => c.hce()?,
            };
            let o = c.object(shard, obj, DAOS_OBJ_RO)?;
            let length = match length {
                Some(l) => l,
                None => o.size(e)?.saturating_sub(offset),
            };
            if offset.checked_add(length).is_none() {
                return Err(Fail::new("object get: offset + length", libc::EINVAL));
            }
            let mut out: Box<dyn Write> = match &output {
                Some(f) => Box::new(std::fs::File::create(f).map_err(|err| Fail::io(format!("object get: create {}", f.display()), &err))?),
                None => Box::new(std::io::stdout().lock()),
            };
            let werr = |err: std::io::Error| match &output {
                Some(f) => Fail::io(format!("object get: write {}", f.display()), &err),
                None => Fail::io("object get: write stdout", &err),
            };
            let mut bar = Progress::new(ctx.progress && length >= BAR_MIN, "get", Some(length), true);
            let mut buf = vec![0u8; CHUNK.min(length as usize)];
            let mut done: u64 = 0;
            while done < length {
                let n = (length - done).min(CHUNK as u64) as usize;
                o.read(e, offset + done, &mut buf[..n])?;
                out.write_all(&buf[..n]).map_err(werr)?;
                done += n as u64;
                bar.set(done, false);
            }
            out.flush().map_err(werr)?;
            bar.finish(done);
            Ok(match output {
                Some(f) => Report::new(
                    lines!["read {} of object {obj} of shard {shard} at offset {offset}, epoch {e}, into {}", human(done), f.display()],
                    json!({
                        "path": shown(&container), "shard": shard, "object": obj, "offset": offset,
                        "bytes": done, "epoch": e, "file": shown(&f),
                    }),
                ),
                None => Report::none(),
            })
        }
        ObjectCmd::Punch { container, shard, obj, begin, end, epoch, no_commit } => {
            let c = Container::rw(&container)?;
            let e = data_epoch(&c, epoch)?;
            let end_ = end.unwrap_or(u64::MAX);
            c.punch(e, shard, obj, begin, end_)?;
            let visible = commit_put(&c, e, no_commit)?;
            c.close()?;
            let range = match end {
                Some(x) if x != u64::MAX => format!("[{begin}, {x}) ({})", human(x - begin)),
                _ => format!("[{begin}, end)"),
            };
            Ok(Report::new(
                lines!["punched {range} of object {obj} of shard {shard} at epoch {e} ({})", committed_text(no_commit, visible)],
                json!({
                    "path": shown(&container), "shard": shard, "object": obj, "begin": begin,
                    "end": end.filter(|&x| x != u64::MAX), "epoch": e, "committed": !no_commit,
                }),
            ))
        }
    }
}

pub fn epoch(_ctx: &Ctx, cmd: EpochCmd) -> Res<Report> {
    match cmd {
        EpochCmd::Query { container } => {
            let c = Container::ro(&container)?;
            let e = c.epoch_query()?;
            let mut j = epochs_json(&e);
            j["path"] = json!(c.path);
            Ok(Report::new(epochs_text(&e), j))
        }
        EpochCmd::Commit { container, epoch, sync } => {
            let c = Container::rw(&container)?;
            c.commit(epoch, sync)?;
            let hce = c.hce()?;
            c.close()?;
            Ok(Report::new(lines!["hce: {hce}"], json!({"path": shown(&container), "epoch": epoch, "hce": hce})))
        }
        EpochCmd::Abort { container, epoch } => {
            let c = Container::rw(&container)?;
            c.abort(epoch)?;
            c.close()?;
            Ok(Report::new(lines!["aborted epochs >= {epoch}"], json!({"path": shown(&container), "epoch": epoch})))
        }
    }
}
