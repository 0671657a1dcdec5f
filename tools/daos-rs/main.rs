//! `daos-rs`: the command-line tool of daos-rs. Formats stores, shows and
//! administers targets, and works on containers, shards, objects and epochs
//! through the library's C API (synchronous calls).
//!
//! Exit status: 0 success, 1 a failed operation (one line on stderr naming
//! the errno), 2 bad usage.

mod api;
mod data;
mod progress;
mod store;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Command-line tool of daos-rs: DAOS-style object storage over local directories.
#[derive(Parser)]
#[command(name = "daos-rs", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Exit status: 0 success, 1 a failed operation, 2 bad usage.\n\
Numbers accept K, M, G suffixes (powers of 1024); epochs accept `highest`.")]
pub struct Cli {
    /// Draw progress bars on stderr even when it is not a terminal
    #[arg(long, global = true)]
    pub progress: bool,
    /// Also show the library's own log lines (DAOS_RS_LOG=warn) on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Make a store: a directory with `.daos/` and its targets
    ///
    /// PATH must be an existing directory that is not inside another store. The
    /// number of targets is --targets, or else the number of --target-dir or
    /// --topology entries, or else 1. Each target is probed (about 16 MiB of I/O)
    /// for the performance figures of `target info`, unless --no-probe.
    Format(FormatArgs),
    /// The system container: the storage tree
    #[command(subcommand)]
    Sys(SysCmd),
    /// Storage targets: information, enable/disable, performance probe
    #[command(subcommand)]
    Target(TargetCmd),
    /// Containers: create, query, list shards, snapshot, unlink
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Shards of a container: add, disable, query, list objects
    #[command(subcommand)]
    Shard(ShardCmd),
    /// Objects: put (stdin), get (stdout), punch
    #[command(subcommand)]
    Object(ObjectCmd),
    /// Epochs: query, commit, abort
    #[command(subcommand)]
    Epoch(EpochCmd),
}

/// Arguments of `format`.
#[derive(Args)]
pub struct FormatArgs {
    /// Directory to make the store root
    pub path: PathBuf,
    /// Number of targets
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub targets: Option<u32>,
    /// Directory of a target (repeat, in target order; default: inside .daos/)
    #[arg(long = "target-dir", value_name = "DIR")]
    pub target_dirs: Vec<PathBuf>,
    /// Location of each target, in target order (one entry: every target)
    #[arg(long, value_name = "CAGE:RACK:NODE,...", value_delimiter = ',', value_parser = parse_loc)]
    pub topology: Vec<(i32, i32, i32)>,
    /// Skip the performance probe of the targets
    #[arg(long)]
    pub no_probe: bool,
}

#[derive(Subcommand)]
pub enum SysCmd {
    /// Print the storage tree (cages, racks, nodes, targets), indented
    Query {
        /// A path in the store
        path: PathBuf,
        /// Only below this cage
        #[arg(long)]
        cage: Option<u32>,
        /// Only below this rack (needs --cage)
        #[arg(long, requires = "cage")]
        rack: Option<u32>,
        /// Only below this node (needs --rack)
        #[arg(long, requires = "rack")]
        node: Option<u32>,
        /// Levels to show, 0 for all
        #[arg(long, default_value_t = 0)]
        depth: u32,
    },
}

#[derive(Subcommand)]
pub enum TargetCmd {
    /// Status, type, location, space, performance and latency of a target
    Info {
        /// A path in the store
        path: PathBuf,
        /// Target id
        id: u32,
    },
    /// Disable a target (the administrator's switch; durable)
    Disable {
        /// A path in the store
        path: PathBuf,
        /// Target id
        id: u32,
    },
    /// Enable a target, with a health of 0..100
    Enable {
        /// A path in the store
        path: PathBuf,
        /// Target id
        id: u32,
        /// Health to give it
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(0..=100))]
        health: i32,
    },
    /// Measure a target's performance again and store the figures
    Probe {
        /// A path in the store
        path: PathBuf,
        /// Target id
        id: u32,
    },
}

#[derive(Subcommand)]
pub enum ContainerCmd {
    /// Create an empty container (no shards); its directory must be in a store
    Create {
        /// Path of the new container
        path: PathBuf,
    },
    /// Owner, shards, status and epochs of a container
    Query {
        /// The container
        path: PathBuf,
    },
    /// List shard ids, one per line
    ListShards {
        /// The container
        path: PathBuf,
        /// Only shards stuck below HSE
        #[arg(long, conflicts_with = "disabled")]
        stuck: bool,
        /// Only disabled shards
        #[arg(long)]
        disabled: bool,
    },
    /// Make SNAPSHOT: a new container with this one's content at an epoch
    Snapshot {
        /// The container
        path: PathBuf,
        /// Path of the new container
        snapshot: PathBuf,
        /// Committed epoch to take [default: HCE]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
    /// Remove a container and its shards
    Unlink {
        /// The container
        path: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ShardCmd {
    /// Add shards: one per --target; prints "SHARD TARGET" per shard made
    Add {
        /// The container
        container: PathBuf,
        /// Target of a new shard (repeat for several)
        #[arg(long = "target", value_name = "T", required = true)]
        targets: Vec<u32>,
        /// Id wanted for each new shard, in --target order [default: lowest free]
        #[arg(long = "id", value_name = "ID", value_parser = clap::value_parser!(u32).range(0..(1 << 20)))]
        ids: Vec<u32>,
        /// Epoch recording the layout change [default: HCE + 1]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
    /// Disable shards for good (their objects can no longer be opened)
    Disable {
        /// The container
        container: PathBuf,
        /// Shard ids
        #[arg(required = true)]
        shards: Vec<u32>,
        /// Epoch recording the layout change [default: HCE + 1]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
    /// Target, type, status, location and space of a shard
    Query {
        /// The container
        container: PathBuf,
        /// Shard id
        shard: u32,
        /// Epoch to query [default: the shard's committed epoch]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
    /// List the non-empty objects of a shard, one id per line
    ListObj {
        /// The container
        container: PathBuf,
        /// Shard id
        shard: u32,
        /// Epoch to list at [default: highest]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum ObjectCmd {
    /// Write stdin into an object at an epoch, then commit that epoch
    ///
    /// The data is written in 1 MiB chunks at epoch HCE + 1 (or --epoch) and
    /// committed. With --no-commit it stays uncommitted, so it is discarded
    /// when the tool closes the container (useful to test exactly that).
    Put {
        /// The container
        container: PathBuf,
        /// Shard id
        shard: u32,
        /// Object id within the shard
        obj: u64,
        /// Where in the object to write
        #[arg(long, default_value = "0", value_parser = parse_num)]
        offset: u64,
        /// Epoch to write [default: HCE + 1]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
        /// Do not commit (the writes are discarded at exit)
        #[arg(long)]
        no_commit: bool,
    },
    /// Read LENGTH bytes of an object at an epoch to stdout
    ///
    /// Objects are unbounded (never-written bytes read as zeros) and the API
    /// has no per-object size, so the length must be given.
    Get {
        /// The container
        container: PathBuf,
        /// Shard id
        shard: u32,
        /// Object id within the shard
        obj: u64,
        /// First byte to read
        #[arg(long, default_value = "0", value_parser = parse_num)]
        offset: u64,
        /// Number of bytes to read
        #[arg(long, value_parser = parse_num)]
        length: u64,
        /// Epoch to read at [default: HCE]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
    /// Discard [BEGIN, END) of an object at an epoch, then commit it
    Punch {
        /// The container
        container: PathBuf,
        /// Shard id
        shard: u32,
        /// Object id within the shard
        obj: u64,
        /// First byte to discard
        #[arg(long, default_value = "0", value_parser = parse_num)]
        begin: u64,
        /// End (exclusive) [default: the end of the object]
        #[arg(long, value_parser = parse_num)]
        end: Option<u64>,
        /// Epoch [default: HCE + 1]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
        /// Do not commit (the punch is discarded at exit)
        #[arg(long)]
        no_commit: bool,
    },
}

#[derive(Subcommand)]
pub enum EpochCmd {
    /// HCE, oldest readable, slipped, HSE and last layout change
    Query {
        /// The container
        container: PathBuf,
    },
    /// Move HCE to EPOCH (this process has no writes of its own to publish)
    Commit {
        /// The container
        container: PathBuf,
        /// Epoch to commit
        #[arg(value_parser = parse_epoch)]
        epoch: u64,
        /// Keep this epoch readable for good
        #[arg(long)]
        sync: bool,
    },
    /// Abort EPOCH and above (EPOCH must be above HCE)
    Abort {
        /// The container
        container: PathBuf,
        /// First epoch to drop
        #[arg(value_parser = parse_epoch)]
        epoch: u64,
    },
}

/// A number with an optional K/M/G/T suffix (powers of 1024), or 0x hex.
fn parse_num(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).map_err(|e| format!("{s:?}: {e}"));
    }
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 10),
        Some('m') => (&body[..body.len() - 1], 20),
        Some('g') => (&body[..body.len() - 1], 30),
        Some('t') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let v: u64 = digits.parse().map_err(|e| format!("{s:?}: {e}"))?;
    v.checked_mul(1u64 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// An epoch number, or `highest` / `max`.
fn parse_epoch(s: &str) -> Result<u64, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "highest" | "max" => Ok(api::HIGHEST),
        t => t.parse().map_err(|e| format!("{s:?}: {e} (an epoch number, or `highest`)")),
    }
}

/// `CAGE:RACK:NODE`.
fn parse_loc(s: &str) -> Result<(i32, i32, i32), String> {
    let v: Vec<&str> = s.split(':').collect();
    let bad = || format!("{s:?}: want CAGE:RACK:NODE with numbers >= 0, e.g. 0:1:2");
    if v.len() != 3 {
        return Err(bad());
    }
    let n = |x: &str| x.trim().parse::<u32>().ok().filter(|&v| v <= i32::MAX as u32).map(|v| v as i32);
    Ok((n(v[0]).ok_or_else(bad)?, n(v[1]).ok_or_else(bad)?, n(v[2]).ok_or_else(bad)?))
}

/// Exits with status 2 and the usage of the subcommand at `path`
/// (e.g. `["shard", "add"]`), as clap does for its own usage errors.
pub fn usage_error(path: &[&str], msg: impl std::fmt::Display) -> ! {
    let mut cmd = Cli::command();
    cmd.build();
    let mut sub = &mut cmd;
    for name in path {
        sub = sub.find_subcommand_mut(name).expect("usage_error: unknown subcommand");
    }
    sub.error(clap::error::ErrorKind::ArgumentConflict, msg).exit()
}

/// What every command gets besides its arguments.
pub struct Ctx {
    /// Draw progress bars.
    pub progress: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The library logs every failed call at `warn`; the tool prints its own
    // line instead, unless asked to be verbose or the user chose a level.
    // Set before the first library call, while the process has one thread.
    if std::env::var_os("DAOS_RS_LOG").is_none() {
        std::env::set_var("DAOS_RS_LOG", if cli.verbose { "warn" } else { "error" });
    }
    let ctx = Ctx { progress: cli.progress || std::io::stderr().is_terminal() };
    let r = match cli.cmd {
        Cmd::Format(a) => store::format(&ctx, a),
        Cmd::Sys(c) => store::sys(&ctx, c),
        Cmd::Target(c) => store::target(&ctx, c),
        Cmd::Container(c) => data::container(&ctx, c),
        Cmd::Shard(c) => data::shard(&ctx, c),
        Cmd::Object(c) => data::object(&ctx, c),
        Cmd::Epoch(c) => data::epoch(&ctx, c),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("daos-rs: {f}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_epochs_parse() {
        assert_eq!(parse_num("4096"), Ok(4096));
        assert_eq!(parse_num("5M"), Ok(5 << 20));
        assert_eq!(parse_num("5MiB"), Ok(5 << 20));
        assert_eq!(parse_num("2k"), Ok(2048));
        assert_eq!(parse_num("0x10"), Ok(16));
        assert!(parse_num("x").is_err());
        assert!(parse_num("99999999999T").is_err());
        assert_eq!(parse_epoch("highest"), Ok(u64::MAX));
        assert_eq!(parse_epoch("7"), Ok(7));
        assert_eq!(parse_loc("1:2:3"), Ok((1, 2, 3)));
        assert!(parse_loc("1:2").is_err());
        assert!(parse_loc("1:-2:3").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
