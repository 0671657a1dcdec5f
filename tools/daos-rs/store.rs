//! Store commands: format, sys query, target info/disable/enable/probe.

use std::path::{Path, PathBuf};

use daos_rs::ffi::types::*;
use daos_rs::store::{self as lib, StoreConf, TargetSpec};

use crate::api::{Fail, Res, Sys};
use crate::progress::{human, Progress};
use crate::{usage_error, Ctx, FormatArgs, SysCmd, TargetCmd};

pub fn format(ctx: &Ctx, a: FormatArgs) -> Res<()> {
    let n = a.targets.map(|n| n as usize).unwrap_or_else(|| a.target_dirs.len().max(a.topology.len()).max(1));
    if !a.target_dirs.is_empty() && a.target_dirs.len() != n {
        usage_error(&["format"], format!("{} --target-dir for {n} targets: give one per target", a.target_dirs.len()));
    }
    if a.topology.len() > 1 && a.topology.len() != n {
        usage_error(&["format"], format!("{} --topology entries for {n} targets: give one per target, or one for all", a.topology.len()));
    }
    let specs: Vec<TargetSpec> = (0..n)
        .map(|i| {
            let (c, r, nd) = a.topology.get(i).or(a.topology.first()).copied().unwrap_or((0, 0, 0));
            TargetSpec {
                dir: a.target_dirs.get(i).cloned(),
                loc: daos_location { lc_cage: c, lc_rack: r, lc_node: nd },
            }
        })
        .collect();
    let what = format!("format {}", a.path.display());
    // Like mkdir -p: the tool makes the store's directory if it is missing.
    if let Err(e) = std::fs::create_dir_all(&a.path) {
        return Err(Fail::lib(&what, daos_rs::error::Error::os(e, "create the store directory")));
    }
    let flags = if a.no_probe { DAOS_SYS_FORMAT_NO_PROBE } else { 0 };
    let mut bar = Progress::new(ctx.progress && !a.no_probe, "probing targets", Some(n as u64), false);
    lib::format(&a.path, &specs, flags, &mut |done, _| bar.set(done as u64, true)).map_err(|e| Fail::lib(&what, e))?;
    bar.finish(n as u64);
    println!("formatted {} with {n} target{}", a.path.display(), if n == 1 { "" } else { "s" });
    Ok(())
}

pub fn sys(_ctx: &Ctx, c: SysCmd) -> Res<()> {
    let SysCmd::Query { path, cage, rack, node, depth } = c;
    let unk = DAOS_LOC_UNKNOWN;
    let v = |x: Option<u32>| x.map_or(unk, |x| x as i32);
    let loc = daos_location { lc_cage: v(cage), lc_rack: v(rack), lc_node: v(node) };
    // The type of the first level below the given location.
    let base = if node.is_some() {
        DAOS_LOC_TYP_TARGET
    } else if rack.is_some() {
        DAOS_LOC_TYP_NODE
    } else if cage.is_some() {
        DAOS_LOC_TYP_RACK
    } else {
        DAOS_LOC_TYP_CAGE
    };
    let keys = Sys::open(&path)?.query(loc, depth)?;
    let mut out = String::new();
    for k in keys {
        let name = match k.lk_type {
            DAOS_LOC_TYP_CAGE => "cage",
            DAOS_LOC_TYP_RACK => "rack",
            DAOS_LOC_TYP_NODE => "node",
            DAOS_LOC_TYP_TARGET => "target",
            _ => "unknown",
        };
        let indent = k.lk_type.saturating_sub(base) as usize * 2;
        out += &format!("{:indent$}{name} {}\n", "", k.lk_id);
    }
    print!("{out}");
    Ok(())
}

/// `disabled`, `unknown`, `healthy (100)` or `degraded (N)`.
pub fn status_text(s: i32) -> String {
    match s {
        DAOS_TARGET_ST_DISABLED => "disabled".into(),
        DAOS_TARGET_ST_UNKNOWN => "unknown".into(),
        DAOS_TARGET_ST_HEALTHY => "healthy (100)".into(),
        h => format!("degraded ({h})"),
    }
}

pub fn type_text(t: daos_target_type_t) -> &'static str {
    match t {
        DAOS_TARGET_TYPE_SSD => "SSD",
        DAOS_TARGET_TYPE_HDD => "HDD",
        _ => "unknown",
    }
}

pub fn loc_text(l: &daos_target_loc) -> String {
    match l.tl_failovers.get(l.tl_current as usize) {
        Some(c) if l.tl_nlocs > 0 => format!("cage {}, rack {}, node {}", c.lc_cage, c.lc_rack, c.lc_node),
        _ => "unknown".into(),
    }
}

fn perf_text(p: &daos_target_perf) -> String {
    if p.tp_rdbw == 0 && p.tp_wrbw == 0 && p.tp_iops == 0 {
        return "not measured".into();
    }
    format!(
        "read {} MB/s ({} blocks), write {} MB/s ({} blocks), {} IOPS ({} blocks)",
        p.tp_rdbw,
        human(p.tp_rdbw_bs as u64),
        p.tp_wrbw,
        human(p.tp_wrbw_bs as u64),
        p.tp_iops,
        human(p.tp_iops_bs as u64)
    )
}

fn print_info(id: u32, i: &daos_target_info) {
    println!("target: {id}");
    println!("status: {}", status_text(i.ti_status));
    println!("type: {}", type_text(i.ti_type));
    println!("location: {}", loc_text(&i.ti_loc));
    println!(
        "space: {} total, {} free, {} shard{}",
        human(i.ti_space.ts_size),
        human(i.ti_space.ts_free),
        i.ti_space.ts_nshard,
        if i.ti_space.ts_nshard == 1 { "" } else { "s" }
    );
    println!("perf: {}", perf_text(&i.ti_perf));
    println!("latency: {} us (network distance {})", i.ti_affinity.ta_latency, i.ti_affinity.ta_net_dist);
}

pub fn target(ctx: &Ctx, c: TargetCmd) -> Res<()> {
    match c {
        TargetCmd::Info { path, id } => {
            let info = Sys::open(&path)?.query_target(id)?;
            print_info(id, &info);
        }
        TargetCmd::Disable { path, id } => {
            Sys::open(&path)?.set_status(id, DAOS_TARGET_ST_DISABLED, "disable")?;
            println!("target {id} disabled");
        }
        TargetCmd::Enable { path, id, health } => {
            Sys::open(&path)?.set_status(id, health, "enable")?;
            println!("target {id} enabled (health {health})");
        }
        TargetCmd::Probe { path, id } => probe(ctx, &path, id)?,
    }
    Ok(())
}

/// Re-measures a target with the library's probe and stores the figures.
fn probe(ctx: &Ctx, path: &Path, id: u32) -> Res<()> {
    let what = format!("target probe {} {id}", path.display());
    let root: PathBuf = lib::find_root(path).map_err(|e| Fail::lib(&what, e))?;
    let conf = StoreConf::load(&root).map_err(|e| Fail::lib(&what, e))?;
    let dir = conf.target(id).map_err(|e| Fail::lib(&what, e))?.dir.clone();
    let mut bar = Progress::new(ctx.progress, format!("probing target {id}"), Some(1), false);
    bar.set(0, true);
    let r = lib::probe_target(&dir).map_err(|e| Fail::lib(&what, e))?;
    bar.finish(1);
    StoreConf::update(&root, |c| {
        let t = c.targets.get_mut(id as usize).ok_or_else(|| daos_rs::error::Error::NoEnt(format!("target {id} is gone")))?;
        t.apply_probe(&r);
        Ok(true)
    })
    .map_err(|e| Fail::lib(&what, e))?;
    println!("target: {id}");
    println!("perf: {}", perf_text(&r.perf));
    println!("latency: {} us", r.latency_us);
    Ok(())
}
