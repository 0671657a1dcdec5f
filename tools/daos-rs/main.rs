//! `daos-rs`: the command-line tool of daos-rs. Formats stores, shows and
//! administers targets, and works on containers, shards, objects and epochs
//! through the library's C API (synchronous calls).
//!
//! Exit status: 0 success, 1 a failed operation (one line on stderr naming
//! the errno and the library's explanation), 2 bad usage. `--json` prints one
//! JSON document on stdout instead of the text (fields in each command's
//! `--help`); `daos-rs completions SHELL` and `daos-rs man DIR` generate the
//! shell completions and man pages `make install` installs.

mod api;
mod data;
mod liblog;
mod progress;
mod report;
mod store;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

/// Command-line tool of daos-rs: DAOS-style object storage over local directories.
#[derive(Parser)]
#[command(name = "daos-rs", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Exit status: 0 success, 1 a failed operation (one line on stderr: what failed, \
the errno and the library's explanation), 2 bad usage.\n\
Numbers accept K, M, G suffixes (powers of 1024); epochs accept `highest`.\n\
--json prints one JSON document on stdout instead of the text; each command's --help lists its fields.")]
pub struct Cli {
    /// Draw progress bars on stderr even when it is not a terminal
    #[arg(long, global = true)]
    pub progress: bool,
    /// Show every line the library logs (DAOS_RS_LOG, default info here) on stderr as it comes
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print one JSON document on stdout instead of text (fields: see each command's --help)
    #[arg(long, global = true)]
    pub json: bool,
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
    /// Print the shell completion script for SHELL on stdout
    ///
    /// bash: `daos-rs completions bash > /etc/bash_completion.d/daos-rs` (or
    /// source it); zsh: into a directory of $fpath as `_daos-rs`; fish: into
    /// ~/.config/fish/completions/daos-rs.fish. `make install` installs them.
    Completions {
        /// The shell
        shell: Shell,
    },
    /// Write the man pages (daos-rs.1, daos-rs-COMMAND.1, ...) into DIR
    #[command(hide = true)]
    Man {
        /// Directory to write them to (made if missing)
        dir: PathBuf,
    },
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
    #[command(after_long_help = JSON_SYS_QUERY)]
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
    #[command(after_long_help = JSON_TARGET_INFO)]
    Info {
        /// A path in the store
        path: PathBuf,
        /// Target id
        id: u32,
    },
    /// Disable a target (the administrator's switch; durable)
    #[command(after_long_help = JSON_TARGET_STATUS)]
    Disable {
        /// A path in the store
        path: PathBuf,
        /// Target id
        id: u32,
    },
    /// Enable a target, with a health of 0..100
    #[command(after_long_help = JSON_TARGET_STATUS)]
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
    #[command(after_long_help = JSON_TARGET_PROBE)]
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
    #[command(after_long_help = JSON_PATH)]
    Create {
        /// Path of the new container
        path: PathBuf,
        /// Keep no data checksums (writes compute none, reads verify none; a
        /// property at create, DAOS_RS_COO_NOCSUM): for data verified elsewhere
        #[arg(long)]
        no_checksums: bool,
    },
    /// Owner, shards, status and epochs of a container
    #[command(after_long_help = JSON_CONTAINER_QUERY)]
    Query {
        /// The container
        path: PathBuf,
    },
    /// List the shards of a container, one per line (`shard N`)
    #[command(after_long_help = JSON_LIST_SHARDS)]
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
    #[command(after_long_help = JSON_SNAPSHOT)]
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
    #[command(after_long_help = JSON_PATH)]
    Unlink {
        /// The container
        path: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ShardCmd {
    /// Add shards: one per --target; prints `shard N on target T` per shard made
    #[command(after_long_help = JSON_SHARD_ADD)]
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
    #[command(after_long_help = JSON_SHARD_DISABLE)]
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
    #[command(after_long_help = JSON_SHARD_QUERY)]
    Query {
        /// The container
        container: PathBuf,
        /// Shard id
        shard: u32,
        /// Epoch to query [default: the shard's committed epoch]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
    },
    /// List the non-empty objects of a shard, one per line (`object N`)
    #[command(after_long_help = JSON_LIST_OBJ)]
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
    /// The data is written in 1 MiB chunks at an epoch the tool holds
    /// (daos_epoch_hold: above HCE, above every commit made and held by no
    /// other writer, so that concurrent puts never lose data), or at
    /// --epoch, and committed. Its commit becomes visible (HCE) once the
    /// lower epochs that other writers hold are committed or released; a
    /// commit with --epoch that another writer's commit overtook fails with
    /// ESTALE (write again). With --no-commit it stays uncommitted, so it is
    /// discarded when the tool closes the container (useful to test exactly
    /// that).
    #[command(after_long_help = JSON_OBJECT_PUT)]
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
        /// Epoch to write [default: an epoch held for this put]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
        /// Do not commit (the writes are discarded at exit)
        #[arg(long)]
        no_commit: bool,
    },
    /// Read an object at an epoch to stdout, or to FILE with -o
    ///
    /// Objects are unbounded (never-written bytes read as zeros). Without
    /// --length the tool reads up to where the object's data ends at that
    /// epoch (daos_object_size: one past its last byte written and not
    /// punched), from --offset; holes below it read as zeros.
    #[command(after_long_help = JSON_OBJECT_GET)]
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
        /// Number of bytes to read [default: to the end of the object's data]
        #[arg(long, value_parser = parse_num)]
        length: Option<u64>,
        /// Epoch to read at [default: HCE]
        #[arg(long, value_parser = parse_epoch)]
        epoch: Option<u64>,
        /// Write the bytes to FILE (made or truncated) instead of stdout, and
        /// print what was read
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Discard [BEGIN, END) of an object at an epoch, then commit it
    #[command(after_long_help = JSON_OBJECT_PUNCH)]
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
        /// Epoch [default: an epoch held for this punch, as for put]
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
    #[command(after_long_help = JSON_EPOCH_QUERY)]
    Query {
        /// The container
        container: PathBuf,
    },
    /// Move HCE to EPOCH (this process has no writes of its own to publish)
    #[command(after_long_help = JSON_EPOCH_COMMIT)]
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
    #[command(after_long_help = JSON_EPOCH_ABORT)]
    Abort {
        /// The container
        container: PathBuf,
        /// First epoch to drop
        #[arg(value_parser = parse_epoch)]
        epoch: u64,
    },
}

// The --json documents, as each command's --help (and man page) lists them.
// Sizes and offsets are numbers of bytes; epochs numbers (HIGHEST is
// 18446744073709551615); a location is {"cage", "rack", "node"} or null.
const JSON_SYS_QUERY: &str = "With --json: {\"path\", \"tree\": [NODE...]}, NODE = {\"type\": \
\"cage\"|\"rack\"|\"node\"|\"target\", \"id\", \"children\": [NODE...]}.";
const JSON_TARGET_INFO: &str = "With --json: {\"target\", \"status\": \"healthy\"|\"degraded\"|\
\"disabled\"|\"unknown\", \"health\" (0-100, null when disabled or unknown), \"type\": \"SSD\"|\"HDD\", \
\"location\", \"space\": {\"total\", \"free\", \"shards\"}, \"perf\": {\"read_mb_s\", \"read_block\", \
\"write_mb_s\", \"write_block\", \"iops\", \"iops_block\"} or null (not measured), \"latency_us\", \
\"net_distance\"}.";
const JSON_TARGET_STATUS: &str = "With --json: {\"target\", \"status\", \"health\"} as `target info`.";
const JSON_TARGET_PROBE: &str = "With --json: {\"target\", \"perf\", \"latency_us\"} as `target info`.";
const JSON_PATH: &str = "With --json: {\"path\"}.";
const JSON_CONTAINER_QUERY: &str = "With --json: {\"path\", \"status\": \"OK\"|\"STUCK\"|\"FAULTY\"|\
\"CORRUPT\", \"uid\", \"gid\", \"shards\", \"stuck\", \"disabled\", \"checksums\": true|false, \
\"epochs\": EPOCHS}, EPOCHS as `epoch query`.";
const JSON_LIST_SHARDS: &str = "With --json: {\"path\", \"which\": \"all\"|\"stuck\"|\"disabled\", \
\"shards\": [ID...]}.";
const JSON_SNAPSHOT: &str = "With --json: {\"path\", \"snapshot\", \"epoch\"}.";
const JSON_SHARD_ADD: &str = "With --json: {\"path\", \"epoch\", \"shards\": [{\"shard\", \"target\"}...]}.";
const JSON_SHARD_DISABLE: &str = "With --json: {\"path\", \"epoch\", \"shards\": [ID...]}.";
const JSON_SHARD_QUERY: &str = "With --json: {\"path\", \"shard\", \"epoch\", \"target\", \"type\", \
\"status\", \"health\", \"location\", \"objects\", \"used\" (bytes)}, as `target info`.";
const JSON_LIST_OBJ: &str = "With --json: {\"path\", \"shard\", \"epoch\", \"objects\": [ID...]}.";
const JSON_OBJECT_PUT: &str = "With --json: {\"path\", \"shard\", \"object\", \"offset\", \"bytes\", \
\"epoch\", \"committed\": true|false}.";
const JSON_OBJECT_GET: &str = "With --json (needs -o, since stdout carries the data otherwise): {\"path\", \
\"shard\", \"object\", \"offset\", \"bytes\", \"epoch\", \"file\"}.";
const JSON_OBJECT_PUNCH: &str = "With --json: {\"path\", \"shard\", \"object\", \"begin\", \"end\" (null: \
the end of the object), \"epoch\", \"committed\"}.";
const JSON_EPOCH_QUERY: &str = "With --json: {\"path\", \"hce\", \"hse\", \"oldest\", \"slipped\", \
\"layout_changed\"}.";
const JSON_EPOCH_COMMIT: &str = "With --json: {\"path\", \"epoch\", \"hce\"}.";
const JSON_EPOCH_ABORT: &str = "With --json: {\"path\", \"epoch\"}.";

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
    /// Print JSON instead of text.
    pub json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The library's log goes to liblog's callback: each failed call's
    // explanation joins the tool's error line, and -v prints every line as it
    // comes. `info` also catches the explanations of expected conditions
    // (-EBUSY...). Set before the first library call, while the process has
    // one thread, unless the user chose a level.
    if std::env::var_os("DAOS_RS_LOG").is_none() {
        std::env::set_var("DAOS_RS_LOG", "info");
    }
    liblog::install(cli.verbose);
    let ctx = Ctx { progress: cli.progress || std::io::stderr().is_terminal(), json: cli.json };
    let r = match cli.cmd {
        Cmd::Format(a) => store::format(&ctx, a),
        Cmd::Sys(c) => store::sys(&ctx, c),
        Cmd::Target(c) => store::target(&ctx, c),
        Cmd::Container(c) => data::container(&ctx, c),
        Cmd::Shard(c) => data::shard(&ctx, c),
        Cmd::Object(c) => data::object(&ctx, c),
        Cmd::Epoch(c) => data::epoch(&ctx, c),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "daos-rs", &mut std::io::stdout());
            Ok(report::Report::none())
        }
        Cmd::Man { dir } => man_pages(&dir),
    };
    match r {
        Ok(rep) => {
            rep.print(ctx.json);
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("daos-rs: {f}");
            ExitCode::from(1)
        }
    }
}

/// `daos-rs man DIR`: a page for the tool and one per command.
fn man_pages(dir: &std::path::Path) -> api::Res<report::Report> {
    let what = || format!("man {}", dir.display());
    std::fs::create_dir_all(dir).map_err(|e| api::Fail::io(what(), &e))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| api::Fail::io(what(), &e))?;
    Ok(report::Report::none())
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
