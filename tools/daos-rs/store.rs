//! Store commands: format, sys query, target info/disable/enable/probe.

use std::path::{Path, PathBuf};

use daos_rs::abi::types::*;
use daos_rs::store::{self as lib, StoreConf, TargetSpec};
use serde_json::{json, Value};

use crate::api::{Fail, Res, Sys};
use crate::lines;
use crate::progress::{human, Progress};
use crate::report::Report;
use crate::{usage_error, Ctx, FormatArgs, SysCmd, TargetCmd};

pub fn format(ctx: &Ctx, a: FormatArgs) -> Res<Report> {
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
    Ok(Report::new(
        lines!["formatted {} with {n} target{}", a.path.display(), if n == 1 { "" } else { "s" }],
        json!({"path": a.path.display().to_string(), "targets": n, "probed": !a.no_probe}),
    ))
}

fn loc_type_name(t: daos_loc_type_t) -> &'static str {
    match t {
        DAOS_LOC_TYP_CAGE => "cage",
        DAOS_LOC_TYP_RACK => "rack",
        DAOS_LOC_TYP_NODE => "node",
        DAOS_LOC_TYP_TARGET => "target",
        _ => "unknown",
    }
}

/// Nests the pre-order list of (level, node) into `[{"type", "id", "children"}]`.
fn tree(keys: &[(usize, Value)]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let (lvl, node) = &keys[i];
        let mut j = i + 1;
        while j < keys.len() && keys[j].0 > *lvl {
            j += 1;
        }
        let mut n = node.clone();
        n["children"] = Value::Array(tree(&keys[i + 1..j]));
        out.push(n);
        i = j;
    }
    out
}

pub fn sys(_ctx: &Ctx, c: SysCmd) -> Res<Report> {
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
    let mut text = String::new();
    let mut flat = Vec::new();
    for k in keys {
        let name = loc_type_name(k.lk_type);
        let level = k.lk_type.saturating_sub(base) as usize;
        let indent = level * 2;
        text += &format!("{:indent$}{name} {}\n", "", k.lk_id);
        flat.push((level, json!({"type": name, "id": k.lk_id})));
    }
    Ok(Report::new(text, json!({"path": path.display().to_string(), "tree": tree(&flat)})))
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

/// `"status"` and `"health"` of a JSON document.
pub fn status_json(s: i32) -> (Value, Value) {
    match s {
        DAOS_TARGET_ST_DISABLED => (json!("disabled"), Value::Null),
        DAOS_TARGET_ST_UNKNOWN => (json!("unknown"), Value::Null),
        DAOS_TARGET_ST_HEALTHY => (json!("healthy"), json!(100)),
        h => (json!("degraded"), json!(h)),
    }
}

pub fn type_text(t: daos_target_type_t) -> &'static str {
    match t {
        DAOS_TARGET_TYPE_SSD => "SSD",
        DAOS_TARGET_TYPE_HDD => "HDD",
        _ => "unknown",
    }
}

fn current_loc(l: &daos_target_loc) -> Option<&daos_location> {
    l.tl_failovers.get(l.tl_current as usize).filter(|_| l.tl_nlocs > 0)
}

pub fn loc_text(l: &daos_target_loc) -> String {
    match current_loc(l) {
        Some(c) => format!("cage {}, rack {}, node {}", c.lc_cage, c.lc_rack, c.lc_node),
        None => "unknown".into(),
    }
}

pub fn loc_json(l: &daos_target_loc) -> Value {
    match current_loc(l) {
        Some(c) => json!({"cage": c.lc_cage, "rack": c.lc_rack, "node": c.lc_node}),
        None => Value::Null,
    }
}

fn measured(p: &daos_target_perf) -> bool {
    !(p.tp_rdbw == 0 && p.tp_wrbw == 0 && p.tp_iops == 0)
}

fn perf_text(p: &daos_target_perf) -> String {
    if !measured(p) {
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

fn perf_json(p: &daos_target_perf) -> Value {
    if !measured(p) {
        return Value::Null;
    }
    json!({
        "read_mb_s": p.tp_rdbw, "read_block": p.tp_rdbw_bs,
        "write_mb_s": p.tp_wrbw, "write_block": p.tp_wrbw_bs,
        "iops": p.tp_iops, "iops_block": p.tp_iops_bs,
    })
}

fn info_report(id: u32, i: &daos_target_info) -> Report {
    let sp = &i.ti_space;
    let text = lines![
        "target: {id}";
        "status: {}", status_text(i.ti_status);
        "type: {}", type_text(i.ti_type);
        "location: {}", loc_text(&i.ti_loc);
        "space: {} total, {} free, {} shard{}", human(sp.ts_size), human(sp.ts_free), sp.ts_nshard,
            if sp.ts_nshard == 1 { "" } else { "s" };
        "perf: {}", perf_text(&i.ti_perf);
        "latency: {} us (network distance {})", i.ti_affinity.ta_latency, i.ti_affinity.ta_net_dist;
    ];
    let (status, health) = status_json(i.ti_status);
    Report::new(
        text,
        json!({
            "target": id, "status": status, "health": health, "type": type_text(i.ti_type),
            "location": loc_json(&i.ti_loc),
            "space": {"total": sp.ts_size, "free": sp.ts_free, "shards": sp.ts_nshard},
            "perf": perf_json(&i.ti_perf),
            "latency_us": i.ti_affinity.ta_latency, "net_distance": i.ti_affinity.ta_net_dist,
        }),
    )
}

fn status_report(id: u32, text: String, st: i32) -> Report {
    let (status, health) = status_json(st);
    Report::new(text, json!({"target": id, "status": status, "health": health}))
}

pub fn target(ctx: &Ctx, c: TargetCmd) -> Res<Report> {
    match c {
        TargetCmd::Info { path, id } => {
            let info = Sys::open(&path)?.query_target(id)?;
            Ok(info_report(id, &info))
        }
        TargetCmd::Disable { path, id } => {
            Sys::open(&path)?.set_status(id, DAOS_TARGET_ST_DISABLED, "disable")?;
            Ok(status_report(id, lines!["target {id} disabled"], DAOS_TARGET_ST_DISABLED))
        }
        TargetCmd::Enable { path, id, health } => {
            Sys::open(&path)?.set_status(id, health, "enable")?;
            Ok(status_report(id, lines!["target {id} enabled (health {health})"], health))
        }
        TargetCmd::Probe { path, id } => probe(ctx, &path, id),
    }
}

/// Re-measures a target with the library's probe and stores the figures.
fn probe(ctx: &Ctx, path: &Path, id: u32) -> Res<Report> {
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
    Ok(Report::new(
        lines!["target: {id}"; "perf: {}", perf_text(&r.perf); "latency: {} us", r.latency_us],
        json!({"target": id, "perf": perf_json(&r.perf), "latency_us": r.latency_us}),
    ))
}
