#!/usr/bin/env bash
# make test-sharedfs: the tests of several processes on a real shared file
# system. It sets up a GlusterFS volume on this machine (one brick, made with
# `force` in a scratch directory) and SHAREDFS_CLIENTS (default 3) FUSE
# clients of it, each in a mount namespace of its own with the volume at the
# SAME path, so that each behaves as another node: its own glusterfs client
# process, its own caches, its own locks. Then it runs, with the stores on
# the volume (C_TESTS_TMPDIR) and the other processes of each test on the
# other clients (C_TESTS_PEER_MNTNS, see c-tests/harness.h):
#
#   test_fs_semantics  what the README asks of a shared file system (flock and
#                      fcntl locks across clients, a lock freed when its
#                      holder is killed, atomic rename, close-to-open)
#   test_multiproc     collective open with the peers on other clients, waits
#                      and listens woken by another client's commit or change
#                      (the library polls on FUSE), independent writers on
#                      different clients (-ESTALE, and epoch holds: two
#                      writers' distinct epochs, a holder SIGKILLed on another
#                      client), a peer and a master SIGKILLed, unlink
#                      while open on another client, aggregation held back
#   test_crash         a writer on another client SIGKILLed while committing
#   test_bgkill        a writer on another client SIGKILLed during
#                      aggregation, compaction, unlink and shard add
#   test_model         the model test (MODEL_OPS=400), its other processes,
#                      which commit and are killed, on the other clients
#
# each once per engine of ENGINES (default "uring", SHAREDFS_ENGINES overrides)
# through c-tests/run.sh (ASan/UBSan), and ends with "N passed, N failed".
#
# Needs root (mounts, namespaces), /dev/fuse, unshare/nsenter (util-linux)
# and Debian's glusterfs-server and glusterfs-client, which it installs with
# apt-get on first use. Where that is impossible (not root, no apt-get, no
# FUSE) it says why it skips and exits 0; with CI=true a failed install is a
# failure instead.
#
# Everything runs inside `unshare --pid --net --mount`: a private network
# namespace (glusterd and the bricks listen on 127.0.1.7 there, nothing leaves
# the machine), a private mount namespace (glusterd's state, logs and sockets
# are bind-mounted from the scratch directory, so an installed GlusterFS is
# left alone and a re-run starts clean), and a PID namespace, so that when the
# run ends, fails, times out (SHAREDFS_TIMEOUT, default 1500 s) or is killed,
# the kernel kills glusterd, the bricks and the FUSE clients and the mounts go
# with their namespaces. The script also unmounts, stops and deletes the volume
# and stops glusterd itself on the way out, then removes the scratch
# directory (SHAREDFS_DIR, default /tmp/daosrs-sharedfs). On a failure the
# GlusterFS logs are kept in build/logs/sharedfs-gluster/.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${SHAREDFS_DIR:-/tmp/daosrs-sharedfs}"
NCLIENTS="${SHAREDFS_CLIENTS:-3}"
TIMEOUT="${SHAREDFS_TIMEOUT:-1500}"
TESTS_RUN="${SHAREDFS_TESTS:-test_fs_semantics test_multiproc test_crash test_bgkill test_model}"
ADDR=127.0.1.7 # a loopback address GlusterFS accepts for a brick (it refuses 127.0.0.1)
VOL=daosrs
MNT="$WORK/mnt"
VOLUME_OPTS="${SHAREDFS_VOLUME_OPTS-performance.flush-behind=off performance.quick-read=off performance.io-cache=off performance.stat-prefetch=off performance.open-behind=off performance.read-ahead=off performance.readdir-ahead=off}"
MOUNT_OPTS="${SHAREDFS_MOUNT_OPTS-log-level=WARNING,attribute-timeout=0,entry-timeout=0,negative-timeout=0}"
export VOLUME_OPTS MOUNT_OPTS

# ------------------------------------------------------------------------
# inside the namespaces (the script runs itself again with --inside)
if [ "${1:-}" = "--inside" ]; then
    CLIENT_PIDS=()
    log() { echo "sharedfs: $*"; }
    cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        for p in "${CLIENT_PIDS[@]}"; do
            timeout 20 nsenter -t "$p" -m umount -l "$MNT" >/dev/null 2>&1
        done
        if pgrep -x glusterd >/dev/null 2>&1; then
            timeout 30 gluster --mode=script volume stop "$VOL" force >/dev/null 2>&1
            timeout 30 gluster --mode=script volume delete "$VOL" >/dev/null 2>&1
        fi
        for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
        [ -s "$WORK/glusterd.pid" ] && kill "$(cat "$WORK/glusterd.pid")" 2>/dev/null
        # glusterfsd (bricks) and glusterfs (FUSE clients) were started by this
        # namespace's processes; the PID namespace dies with this shell anyway
        exit "$rc"
    }
    trap cleanup EXIT
    trap 'exit 1' INT TERM
    set -e
    mkdir -p "$WORK"/{glusterd,log,run,brick,scratch-local} "$MNT"
    # GlusterFS's state, logs and sockets: private to this run
    cp -a /var/lib/glusterd/. "$WORK/glusterd/" 2>/dev/null || true
    mount --bind "$WORK/glusterd" /var/lib/glusterd
    mkdir -p /var/log/glusterfs /run/gluster
    mount --bind "$WORK/log" /var/log/glusterfs
    mount --bind "$WORK/run" /run/gluster
    ip link set lo up
    log "starting glusterd"
    glusterd -p "$WORK/glusterd.pid" --log-level=WARNING
    ok=0
    for _ in $(seq 200); do
        if timeout 10 gluster --mode=script volume list >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.1
    done
    [ "$ok" = 1 ] || { log "glusterd did not answer within 20 s"; exit 1; }
    log "creating the volume $VOL on the brick $ADDR:$WORK/brick"
    timeout 60 gluster --mode=script volume create "$VOL" "$ADDR:$WORK/brick" force
    for o in $VOLUME_OPTS; do
        timeout 60 gluster --mode=script volume set "$VOL" "${o%%=*}" "${o#*=}" >/dev/null ||
            { log "volume set ${o%%=*} ${o#*=} failed"; exit 1; }
    done
    log "volume options: ${VOLUME_OPTS:-none}; mount options: $MOUNT_OPTS"
    timeout 60 gluster --mode=script volume start "$VOL"
    for i in $(seq 0 $((NCLIENTS - 1))); do
        # a client: a process holding a new mount namespace, the volume mounted there
        unshare -m --propagation private sleep 100000 &
        CLIENT_PIDS+=("$!")
        p=$!
        for _ in $(seq 100); do
            [ "$(readlink /proc/$p/ns/mnt)" != "$(readlink /proc/$$/ns/mnt)" ] && break
            sleep 0.05
        done
        mounted=0
        for _ in $(seq 20); do
            if timeout 60 nsenter -t "$p" -m mount -t glusterfs -o "$MOUNT_OPTS" \
                "$ADDR:/$VOL" "$MNT"; then mounted=1; break; fi
            sleep 0.5
        done
        [ "$mounted" = 1 ] || { log "client $i: the volume did not mount"; exit 1; }
        log "client $i: mount namespace of pid $p, $(nsenter -t "$p" -m stat -f -c %T "$MNT") at $MNT"
    done
    # the same path, not the same mount: nothing is mounted there out here
    if mountpoint -q "$MNT"; then log "the volume is mounted outside the clients' namespaces"; exit 1; fi
    first=${CLIENT_PIDS[0]}
    nsenter -t "$first" -m mkdir -p "$MNT/scratch"
    peers=""
    for p in "${CLIENT_PIDS[@]:1}"; do peers="$peers /proc/$p/ns/mnt"; done
    set +e
    log "running $TESTS_RUN in client 0 with the other processes on clients 1..$((NCLIENTS - 1))"
    nsenter -t "$first" -m -- env C_TESTS_TMPDIR="$MNT/scratch" C_TESTS_PEER_MNTNS="${peers# }" \
        MODEL_OPS="${MODEL_OPS:-400}" CRASH_ROUNDS="${CRASH_ROUNDS:-12}" BGKILL_ROUNDS="${BGKILL_ROUNDS:-16}" \
        TESTS="$TESTS_RUN" ENGINES="$ENGINES" "$ROOT/c-tests/run.sh" "$ROOT/target/debug" "$ROOT/include" \
        | tee "$WORK/c-tests.log"
    rc=${PIPESTATUS[0]}
    left=$(nsenter -t "$first" -m find "$MNT/scratch" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    if [ "$left" -ne 0 ]; then
        log "left on the volume (a failed test keeps its store): $left entries"
        tail -n 1 "$WORK/c-tests.log" # the summary, last
    fi
    exit "$rc"
fi

# ------------------------------------------------------------------------
# outside: can it run here, install what it needs, build, then go inside
skip() {
    echo "test-sharedfs: skipped: $*"
    exit 0
}
ENGINES="${SHAREDFS_ENGINES:-uring}"
export ENGINES NCLIENTS

[ "$(id -u)" -eq 0 ] || skip "needs root (mounts, mount and network namespaces, glusterd)"
for t in unshare nsenter mount ip timeout; do
    command -v "$t" >/dev/null || skip "no $t on this machine"
done
if [ ! -c /dev/fuse ]; then
    modprobe fuse >/dev/null 2>&1
    [ -c /dev/fuse ] || skip "no /dev/fuse: FUSE is not available here"
fi
if ! command -v glusterd >/dev/null || ! command -v mount.glusterfs >/dev/null; then
    command -v apt-get >/dev/null || skip "GlusterFS is not installed and there is no apt-get to install it"
    echo "test-sharedfs: installing glusterfs-server and glusterfs-client with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! { timeout 600 apt-get update -q >/dev/null &&
           timeout 900 apt-get install -y -q --no-install-recommends glusterfs-server glusterfs-client >/dev/null; }; then
        if [ "${CI:-}" = "true" ]; then
            echo "test-sharedfs: apt-get could not install GlusterFS"
            echo "0 passed, 1 failed"
            exit 1
        fi
        skip "apt-get could not install glusterfs-server and glusterfs-client (no network?)"
    fi
fi
command -v glusterd >/dev/null || skip "glusterd is still missing after the install"
# a quick look that namespaces work here (some sandboxes refuse them)
unshare --pid --fork --net --mount true 2>/dev/null || skip "unshare of PID, network and mount namespaces is refused here"

cd "$ROOT"
cargo build -q || { echo "test-sharedfs: cargo build failed"; echo "0 passed, 1 failed"; exit 1; }
# leftovers of an earlier run that was killed before it could clean up: the
# namespaces and mounts died with it; the directory is all there is
rm -rf "$WORK"
mkdir -p "$WORK"
echo "test-sharedfs: GlusterFS $(glusterd --version | head -n 1 | awk '{print $2}'), $NCLIENTS clients, engines: $ENGINES"
timeout -k 15 "$TIMEOUT" unshare --pid --fork --kill-child --mount-proc --net --mount --propagation private \
    -- bash "$ROOT/scripts/test-sharedfs.sh" --inside 2>&1 | tee "$WORK.log"
rc=${PIPESTATUS[0]}
last="$(tail -n 1 "$WORK.log" 2>/dev/null)"
if [ "$rc" -ne 0 ]; then
    mkdir -p build/logs/sharedfs-gluster
    cp -r "$WORK/log/." build/logs/sharedfs-gluster/ 2>/dev/null
    cp "$WORK.log" build/logs/sharedfs-gluster/run.log 2>/dev/null
    echo "test-sharedfs: the GlusterFS logs and this run's output are kept in build/logs/sharedfs-gluster/"
fi
rm -rf "$WORK" "$WORK.log"
case "$rc" in
    124|137) echo "test-sharedfs: did not finish within $TIMEOUT s (SHAREDFS_TIMEOUT)" ;;
esac
if ! echo "$last" | grep -qE '^[0-9]+ passed, [0-9]+ failed$'; then
    # it did not get as far as the tests' summary (the set-up failed, or a time-out)
    echo "0 passed, 1 failed"
    [ "$rc" -ne 0 ] || rc=1
elif [ "$rc" -ne 0 ]; then
    echo "$last"
fi
exit "$rc"
