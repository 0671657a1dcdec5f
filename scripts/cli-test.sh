#!/usr/bin/env bash
# Tests the daos-rs command-line tool end to end: builds it, formats temporary
# stores and runs every command, checking output, exit status (0 success,
# 1 failed operation, 2 bad usage) and error messages. Runs the whole suite
# once per I/O engine: DAOS_RS_IO_ENGINE if set, else both uring and threads.
# Ends with "N passed, N failed"; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."

cargo build --quiet || { echo "0 passed, 1 failed"; exit 1; }
BIN=$PWD/target/debug/daos-rs
engines=${DAOS_RS_IO_ENGINE:-uring threads}

pass=0
fail=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/daos-rs-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out
ERR=$TMP/err

ok()  { pass=$((pass + 1)); echo "ok   $ENGINE: $1"; }
# bad NAME [WHY...]: a failed check, with the last command's output.
bad() {
  badnote "$@"
  [ -s "$OUT" ] && sed 's/^/     stdout: /' "$OUT" | head -n 20
  [ -s "$ERR" ] && sed 's/^/     stderr: /' "$ERR" | head -n 20
  return 0
}
# badnote NAME [WHY...]: a failed check, without command output.
badnote() {
  fail=$((fail + 1)); echo "FAIL $ENGINE: $1"
  shift
  [ $# -gt 0 ] && printf '     %s\n' "$@"
  return 0
}

# run CMD...: runs the tool with stdout in $OUT, stderr in $ERR; sets $rc.
run() { "$BIN" "$@" >"$OUT" 2>"$ERR"; rc=$?; }

# expect RC NAME CMD...: the command exits with RC.
expect() {
  local want=$1 name=$2; shift 2
  run "$@"
  if [ "$rc" -eq "$want" ]; then ok "$name"; else bad "$name" "exit $rc, expected $want: daos-rs $*"; fi
}

# has NAME REGEX: the last command's stdout has a line matching REGEX.
has() { if grep -Eq -- "$2" "$OUT"; then ok "$1"; else bad "$1" "stdout has no line matching /$2/"; fi; }

# same NAME FILE_A FILE_B: the files are byte for byte equal.
same() { if cmp -s "$2" "$3"; then ok "$1"; else badnote "$1" "$(cmp "$2" "$3" 2>&1)"; fi; }

# errline NAME REGEX: the last command printed exactly one stderr line, matching REGEX.
errline() {
  if [ "$(wc -l <"$ERR")" -eq 1 ] && grep -Eq -- "$2" "$ERR"; then ok "$1"
  else bad "$1" "expected one stderr line matching /$2/"; fi
}

# jcheck NAME PYEXPR: the last stdout is one JSON document d for which the
# Python expression PYEXPR is true (python3 parses it, as a script would).
jcheck() {
  local why name=$1 expr=$2
  shift 2
  if why=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else "false: " + sys.argv[2])' "$OUT" "$expr" "$@" 2>&1); then ok "$name"
  else bad "$name" "$why"; fi
}

# field NAME: the value of "NAME: value" in the last stdout.
field() { sed -n "s/^$1: //p" "$OUT" | head -n 1; }

suite() {
  local D=$TMP/$ENGINE
  local S=$D/store C=$D/store/c SNAP=$D/store/snap
  mkdir -p "$S" "$D/data"

  # --- format, sys, target -------------------------------------------------
  expect 0 "format 3 targets with topology and probe" format "$S" --targets 3 --topology 0:0:0,0:1:0,1:0:2 --progress
  if grep -q 'probing targets.*100%' "$ERR"; then ok "format draws a probe progress bar with --progress"
  else bad "format draws a probe progress bar with --progress"; fi
  expect 1 "format an existing store fails" format "$S" --no-probe
  errline "format an existing store names EEXIST" '^daos-rs: format .*: File exists \(EEXIST\)'
  expect 0 "format makes a missing directory (as mkdir -p)" format "$D/new/store" --no-probe
  if [ -f "$D/new/store/.daos/store.meta" ]; then ok "the new directory holds a store"
  else bad "the new directory holds a store"; fi
  touch "$D/plainfile"
  expect 1 "format on a regular file fails" format "$D/plainfile" --no-probe
  mkdir -p "$D/other" "$D/disk1" "$D/disk2"
  expect 0 "format with --target-dir" format "$D/other" --target-dir "$D/disk1" --target-dir "$D/disk2" --no-probe
  if [ -f "$D/disk1/TARGET" ] && [ -f "$D/disk2/TARGET" ]; then ok "target dirs hold their markers"
  else bad "target dirs hold their markers"; fi
  expect 2 "format with a wrong count of --target-dir is bad usage" format "$D/other" --targets 3 --target-dir "$D/x"

  expect 0 "sys query" sys query "$S"
  printf 'cage 0\n  rack 0\n    node 0\n      target 0\n  rack 1\n    node 0\n      target 1\ncage 1\n  rack 0\n    node 2\n      target 2\n' >"$D/tree"
  same "sys query prints the indented tree" "$OUT" "$D/tree"
  expect 0 "sys query --cage 0 --depth 1" sys query "$S" --cage 0 --depth 1
  printf 'rack 0\nrack 1\n' >"$D/tree1"
  same "sys query --cage 0 --depth 1 lists the racks" "$OUT" "$D/tree1"
  expect 0 "sys query --cage 1 --rack 0 --node 2" sys query "$S/some/where" --cage 1 --rack 0 --node 2
  has "sys query of a node lists its target" '^target 2$'
  expect 1 "sys query of a missing cage fails" sys query "$S" --cage 9
  errline "sys query of a missing cage names ENOENT and says why" '\(ENOENT\): no cage 9 in this store$'
  expect 0 "sys query --json" --json sys query "$S"
  jcheck "sys query --json nests the tree" 'd["tree"][0]["type"] == "cage" and d["tree"][1]["children"][0]["children"][0]["children"] == [{"type": "target", "id": 2, "children": []}]'

  expect 0 "target info" target info "$S" 1
  has "target info: status healthy" '^status: healthy \(100\)$'
  has "target info: location" '^location: cage 0, rack 1, node 0$'
  has "target info: type" '^type: (SSD|HDD)$'
  has "target info: space" '^space: .* total, .* free, 0 shards$'
  has "target info: perf measured by format" '^perf: read [1-9][0-9]* MB/s'
  has "target info: latency" '^latency: [0-9]+ us'
  expect 1 "target info of an unknown target fails" target info "$S" 99
  errline "target info of an unknown target names ENOENT and the library's explanation" '^daos-rs: target info .* 99: No such file or directory \(ENOENT\): target 99 does not exist \(the store has 3\)$'
  expect 0 "target info --json" target info "$S" 1 --json
  jcheck "target info --json fields" 'd["target"] == 1 and d["status"] == "healthy" and d["health"] == 100 and d["type"] in ("SSD", "HDD") and d["location"] == {"cage": 0, "rack": 1, "node": 0} and d["space"]["total"] >= d["space"]["free"] > 0 and d["space"]["shards"] == 0 and d["perf"]["read_mb_s"] > 0 and isinstance(d["latency_us"], int)'
  expect 0 "target probe" target probe "$S" 2
  has "target probe prints the figures" '^perf: read [0-9]+ MB/s'
  expect 0 "target probe --json" --json target probe "$S" 2
  jcheck "target probe --json" 'd["target"] == 2 and d["perf"]["iops"] > 0'
  expect 0 "target info after probe" target info "$D/other" 0
  has "unprobed target says not measured" '^perf: not measured$'
  expect 0 "target probe of an unprobed target" target probe "$D/other" 0
  expect 0 "target info after probe" target info "$D/other" 0
  has "probe figures are stored" '^perf: read [0-9]+ MB/s'

  # --- containers and shards -----------------------------------------------
  expect 0 "container create" container create "$C"
  expect 1 "container create of an existing one fails" container create "$C"
  errline "container create of an existing one names EEXIST" 'File exists \(EEXIST\)$'
  expect 1 "container create outside a store fails" container create "$D/outside"
  expect 0 "container query of an empty container" container query "$C"
  has "empty container has no shards" '^shards: 0$'
  has "empty container is OK" '^status: OK$'
  expect 0 "container query --json" container query "$C" --json
  jcheck "container query --json fields" 'd["path"] == sys.argv[3] and d["status"] == "OK" and d["shards"] == 0 and d["checksums"] is True and set(d["epochs"]) == {"hce", "hse", "oldest", "slipped", "layout_changed"}' "$C"
  expect 0 "container query shows checksums on" container query "$C"
  has "a container has checksums by default" '^checksums: on$'
  expect 0 "container create --no-checksums" container create "$S/nocsum" --no-checksums
  expect 0 "container query of a container without checksums" container query "$S/nocsum"
  has "container query shows checksums off" '^checksums: off$'
  expect 0 "container query --json without checksums" container query "$S/nocsum" --json
  jcheck "container query --json says checksums false" 'd["checksums"] is False'
  expect 0 "container unlink of the one without checksums" container unlink "$S/nocsum"
  expect 0 "shard add two shards" shard add "$C" --target 0 --target 1
  printf 'shard 0 on target 0\nshard 1 on target 1\n' >"$D/added"
  same "shard add says which shards it made, on which targets" "$OUT" "$D/added"
  expect 0 "shard add with --id" --json shard add "$C" --target 2 --id 7
  jcheck "shard add --id --json makes that id" 'd["shards"] == [{"shard": 7, "target": 2}] and d["epoch"] >= 1'
  expect 1 "shard add of a taken id fails" shard add "$C" --target 0 --id 7
  expect 1 "shard add on an unknown target fails" shard add "$C" --target 42
  expect 2 "shard add with more --id than --target is bad usage" shard add "$C" --target 0 --id 1 --id 2
  expect 0 "container list-shards" container list-shards "$C"
  printf 'shard 0\nshard 1\nshard 7\n' >"$D/shards"
  same "container list-shards lists every shard" "$OUT" "$D/shards"
  expect 0 "container list-shards --json" container list-shards "$C" --json
  jcheck "container list-shards --json" 'd["shards"] == [0, 1, 7] and d["which"] == "all"'
  expect 0 "container query" container query "$C"
  has "container query: 3 shards" '^shards: 3$'
  has "container query: uid" "^uid: $(id -u)$"
  has "container query: gid" "^gid: $(id -g)$"
  has "container query: layout changed" '^layout-changed: [1-9]'
  expect 0 "target info counts shards" target info "$S" 0
  has "target 0 has a shard" '^space: .* 1 shard$'

  # --- objects ----------------------------------------------------------------
  head -c $((5 << 20)) /dev/urandom >"$D/data/orig"
  run object put "$C" 0 7 --progress <"$D/data/orig"
  if [ "$rc" -eq 0 ]; then ok "object put 5 MiB"; else bad "object put 5 MiB" "exit $rc"; fi
  has "object put reports the size (human-readable), object and epoch" '^wrote 5.0 MiB to object 7 of shard 0 at offset 0, epoch [0-9]+ \(committed\)$'
  if grep -q '100%' "$ERR"; then ok "object put draws a progress bar with --progress"
  else bad "object put draws a progress bar with --progress"; fi
  "$BIN" object get "$C" 0 7 --length 5M --progress >"$D/data/back" 2>"$ERR"; rc=$?
  [ "$rc" -eq 0 ] && ok "object get 5 MiB" || bad "object get 5 MiB" "exit $rc"
  same "object put/get round-trips 5 MiB" "$D/data/orig" "$D/data/back"
  "$BIN" object get "$C" 0 7 --length 5M >"$D/data/back2" 2>"$ERR"
  if [ ! -s "$ERR" ]; then ok "no progress bar when stderr is not a terminal"
  else bad "no progress bar when stderr is not a terminal"; fi
  "$BIN" object get "$C" 0 7 --offset 1M --length 1000 >"$D/data/part" 2>"$ERR"
  tail -c +$((1048576 + 1)) "$D/data/orig" | head -c 1000 >"$D/data/part.exp"
  same "object get --offset --length reads that extent" "$D/data/part" "$D/data/part.exp"
  "$BIN" object get "$C" 0 7 >"$D/data/whole" 2>"$ERR"
  same "object get without --length reads the whole object" "$D/data/orig" "$D/data/whole"
  expect 0 "object get -o FILE" object get "$C" 0 7 -o "$D/data/file"
  same "object get -o writes the object to FILE" "$D/data/orig" "$D/data/file"
  has "object get -o says what it read" "^read 5.0 MiB of object 7 of shard 0 at offset 0, epoch [0-9]+, into $D/data/file$"
  expect 0 "object get -o --json --offset" object get "$C" 0 7 --offset 4M -o "$D/data/tail" --json
  jcheck "object get --json (default length from the offset to the end)" 'd["bytes"] == 1048576 and d["offset"] == 4194304 and d["file"].endswith("/data/tail")'
  tail -c 1048576 "$D/data/orig" >"$D/data/tail.exp"
  same "object get --offset without --length reads to the end" "$D/data/tail" "$D/data/tail.exp"
  expect 2 "object get --json without -o is bad usage" object get "$C" 0 7 --json
  "$BIN" object get "$C" 0 7 --offset 5M --length 4096 >"$D/data/beyond" 2>"$ERR"
  head -c 4096 /dev/zero >"$D/data/zeros4k"
  same "bytes never written read as zeros" "$D/data/beyond" "$D/data/zeros4k"
  expect 0 "shard list-obj" shard list-obj "$C" 0
  printf 'object 7\n' >"$D/objs"
  same "shard list-obj lists the object" "$OUT" "$D/objs"
  expect 0 "shard list-obj --json" shard list-obj "$C" 0 --json
  jcheck "shard list-obj --json" 'd["objects"] == [7] and d["shard"] == 0'
  expect 0 "shard query" shard query "$C" 0
  has "shard query: one object" '^objects: 1$'
  has "shard query: space used, human-readable" '^used: 5.0 MiB$'
  has "shard query: target" '^target: 0$'
  has "shard query: status" '^status: healthy \(100\)$'
  has "shard query: location" '^location: cage 0, rack 0, node 0$'
  expect 0 "shard query --json" shard query "$C" 0 --json
  jcheck "shard query --json" 'd["used"] == 5242880 and d["objects"] == 1 and d["target"] == 0 and d["status"] == "healthy" and d["location"] == {"cage": 0, "rack": 0, "node": 0}'
  expect 1 "shard query of an unknown shard fails" shard query "$C" 55

  expect 0 "epoch query" epoch query "$C"
  local e1; e1=$(field hce)
  has "epoch query: hce" '^hce: [1-9][0-9]*$'
  has "epoch query: hse" '^hse: '
  has "epoch query: oldest" '^oldest: '
  has "epoch query: layout-changed" '^layout-changed: '
  expect 0 "epoch query --json" epoch query "$C" --json
  jcheck "epoch query --json" 'd["hce"] == int(sys.argv[3]) and d["hse"] >= d["hce"] >= d["oldest"]' "$e1"

  expect 0 "container snapshot at HCE" container snapshot "$C" "$SNAP"
  has "container snapshot reports the epoch" "^snapshot .* at epoch $e1$"
  expect 1 "container snapshot onto an existing path fails" container snapshot "$C" "$SNAP"
  printf 'new bytes' | "$BIN" object put "$C" 0 7 >"$OUT" 2>"$ERR"
  [ $? -eq 0 ] && ok "object put over the start" || bad "object put over the start"
  "$BIN" object get "$C" 0 7 --length 9 >"$D/data/head" 2>"$ERR"
  printf 'new bytes' >"$D/data/head.exp"
  same "object get sees the new bytes" "$D/data/head" "$D/data/head.exp"
  "$BIN" object get "$SNAP" 0 7 --length 5M >"$D/data/snap" 2>"$ERR"
  same "object get from the snapshot gives the content at the snapshot's epoch" "$D/data/orig" "$D/data/snap"
  "$BIN" object get "$C" 0 7 --length 5M --epoch "$e1" >"$D/data/old" 2>"$ERR"
  same "object get --epoch reads an older version" "$D/data/orig" "$D/data/old"
  expect 0 "epoch query of the snapshot" epoch query "$SNAP"
  has "the snapshot's HCE is the epoch taken" "^hce: $e1$"
  expect 1 "container snapshot above HCE fails" container snapshot "$C" "$D/store/snap2" --epoch 999

  # Punch [1 MiB, 2 MiB) and check zeros there, the rest unchanged.
  expect 0 "object punch a range" object punch "$C" 0 7 --begin 1M --end 2M
  has "object punch reports the range and its size" '^punched \[1048576, 2097152\) \(1.0 MiB\) of object 7 of shard 0 at epoch [0-9]+ \(committed\)$'
  cp "$D/data/orig" "$D/data/punched"
  printf 'new bytes' | dd of="$D/data/punched" conv=notrunc status=none
  dd if=/dev/zero of="$D/data/punched" bs=1M seek=1 count=1 conv=notrunc status=none
  "$BIN" object get "$C" 0 7 --length 5M >"$D/data/afterpunch" 2>"$ERR"
  same "punched bytes read as zeros, the rest is kept" "$D/data/punched" "$D/data/afterpunch"
  printf 'x' | "$BIN" object put "$C" 1 3 >/dev/null 2>"$ERR"
  expect 0 "shard list-obj before punching everything" shard list-obj "$C" 1
  has "object 3 is listed" '^object 3$'
  expect 0 "object punch a whole object" object punch "$C" 1 3
  expect 0 "shard list-obj after punching everything" shard list-obj "$C" 1
  if [ ! -s "$OUT" ]; then ok "a fully punched object is no longer listed"; else bad "a fully punched object is no longer listed"; fi
  expect 1 "object punch with begin > end fails" object punch "$C" 0 7 --begin 10 --end 5

  # --no-commit: the writes are discarded when the tool closes the container.
  expect 0 "epoch query before an uncommitted put" epoch query "$C"
  local e2; e2=$(field hce)
  printf 'lost' | "$BIN" object put "$C" 7 1 --no-commit >"$OUT" 2>"$ERR"
  has "object put --no-commit says so" '\(not committed\)$'
  expect 0 "epoch query after an uncommitted put" epoch query "$C"
  has "an uncommitted put leaves HCE" "^hce: $e2$"
  "$BIN" object get "$C" 7 1 --length 4 >"$D/data/lost" 2>"$ERR"
  head -c 4 /dev/zero >"$D/data/zeros4"
  same "uncommitted data is discarded" "$D/data/lost" "$D/data/zeros4"
  printf 'kept' | "$BIN" object put "$C" 7 1 --offset 4K --epoch $((e2 + 5)) >"$OUT" 2>"$ERR"
  has "object put --epoch --offset" "^wrote 4 B to object 1 of shard 7 at offset 4096, epoch $((e2 + 5)) \(committed\)$"
  "$BIN" object get "$C" 7 1 >"$D/data/hole" 2>"$ERR"
  { head -c 4096 /dev/zero; printf 'kept'; } >"$D/data/hole.exp"
  same "object get without --length stops where the data ends (holes below read as zeros)" "$D/data/hole" "$D/data/hole.exp"
  "$BIN" object get "$C" 7 1 --offset 4096 --length 4 >"$D/data/kept" 2>"$ERR"
  printf 'kept' >"$D/data/kept.exp"
  same "object put --epoch --offset lands there" "$D/data/kept" "$D/data/kept.exp"
  expect 1 "object put at a committed epoch fails" object put "$C" 7 1 --epoch 1 <"$D/data/kept.exp"
  errline "object put at a committed epoch names EPERM and the epoch" '\(EPERM\): .*epoch 1 .*$'

  # Concurrent puts (issue 15): 8 processes started together, each writing
  # 2 MiB to its own object, each at an epoch it holds: every one reports
  # success, at a distinct epoch, and every object reads back exactly.
  local i pids=() e_seen=()
  for i in 0 1 2 3 4 5 6 7; do
    head -c $((2 << 20)) /dev/urandom >"$D/data/conc$i"
  done
  for i in 0 1 2 3 4 5 6 7; do
    "$BIN" object put "$C" 0 $((200 + i)) <"$D/data/conc$i" >"$D/data/conc$i.out" 2>"$D/data/conc$i.err" &
    pids+=($!)
  done
  local cfail=0
  for i in 0 1 2 3 4 5 6 7; do
    if ! wait "${pids[$i]}"; then cfail=1; sed "s/^/     put $i: /" "$D/data/conc$i.err"; fi
    grep -Eq '^wrote 2.0 MiB to object .* epoch [0-9]+ \(committed' "$D/data/conc$i.out" || cfail=1
    e_seen+=("$(sed -nE 's/.* epoch ([0-9]+) .*/\1/p' "$D/data/conc$i.out")")
  done
  if [ "$cfail" -eq 0 ]; then ok "8 concurrent object puts all succeed"; else badnote "8 concurrent object puts all succeed"; fi
  if [ "$(printf '%s\n' "${e_seen[@]}" | sort -u | grep -c .)" -eq 8 ]; then ok "8 concurrent object puts write at 8 distinct epochs"
  else badnote "8 concurrent object puts write at 8 distinct epochs" "epochs: ${e_seen[*]}"; fi
  cfail=0
  for i in 0 1 2 3 4 5 6 7; do
    "$BIN" object get "$C" 0 $((200 + i)) >"$D/data/conc$i.back" 2>"$ERR"
    cmp -s "$D/data/conc$i" "$D/data/conc$i.back" || { cfail=1; echo "     object $((200 + i)) differs"; }
  done
  if [ "$cfail" -eq 0 ]; then ok "8 concurrent object puts all read back exactly"; else badnote "8 concurrent object puts all read back exactly"; fi
  rm -f "$D"/data/conc*

  # --- epochs -----------------------------------------------------------------
  local hce; run epoch query "$C"; hce=$(field hce)
  expect 0 "epoch commit" epoch commit "$C" $((hce + 3)) --sync
  has "epoch commit moves HCE" "^hce: $((hce + 3))$"
  expect 0 "epoch commit at or below HCE is a no-op" epoch commit "$C" 1
  expect 1 "epoch abort of a committed epoch fails" epoch abort "$C" $((hce + 3))
  errline "epoch abort of a committed epoch names EPERM and why" '^daos-rs: epoch abort .*: Operation not permitted \(EPERM\): epoch [0-9]+ is already committed \(HCE [0-9]+\)$'
  expect 0 "epoch abort --json" --json epoch abort "$C" $((hce + 11))
  jcheck "epoch abort --json" 'd["epoch"] == int(sys.argv[3])' $((hce + 11))
  expect 0 "epoch commit --json" epoch commit "$C" $((hce + 4)) --json
  jcheck "epoch commit --json" 'd["hce"] == d["epoch"] == int(sys.argv[3])' $((hce + 4))
  expect 0 "epoch abort above HCE" epoch abort "$C" $((hce + 10))
  expect 2 "epoch commit of a non-number is bad usage" epoch commit "$C" soon

  # --- target status seen by targets and containers ---------------------------
  expect 0 "target disable" target disable "$S" 1
  expect 0 "target info of a disabled target" target info "$S" 1
  has "target info shows disabled" '^status: disabled$'
  expect 0 "container query with a disabled target" container query "$C"
  has "a container with a shard on a disabled target is FAULTY" '^status: FAULTY$'
  expect 0 "shard query on a disabled target" shard query "$C" 1
  has "shard query shows the target disabled" '^status: disabled$'
  expect 0 "target enable --health 80" target enable "$S" 1 --health 80
  expect 0 "target info after enable --health 80" target info "$S" 1
  has "target info shows the health" '^status: degraded \(80\)$'
  expect 0 "target enable" target enable "$S" 1
  expect 0 "target info after enable" target info "$S" 1
  has "target info shows healthy again" '^status: healthy \(100\)$'
  expect 2 "target enable --health 101 is bad usage" target enable "$S" 1 --health 101

  expect 0 "shard disable" shard disable "$C" 7
  expect 0 "container list-shards --disabled" container list-shards "$C" --disabled
  printf 'shard 7\n' >"$D/dis"
  same "container list-shards --disabled lists it" "$OUT" "$D/dis"
  expect 0 "container list-shards --stuck" container list-shards "$C" --stuck
  if [ ! -s "$OUT" ]; then ok "no shard is stuck"; else bad "no shard is stuck"; fi
  expect 0 "container query after shard disable" container query "$C"
  has "container query counts the disabled shard" '^disabled: 1$'
  expect 1 "object get on a disabled shard fails" object get "$C" 7 1 --length 1
  expect 2 "list-shards --stuck --disabled is bad usage" container list-shards "$C" --stuck --disabled

  # --- unlink, missing containers, usage --------------------------------------
  expect 0 "container unlink" container unlink "$SNAP"
  if [ ! -e "$SNAP" ]; then ok "the unlinked container is gone"; else bad "the unlinked container is gone"; fi
  expect 1 "container unlink of a missing container fails" container unlink "$SNAP"
  expect 1 "container query of a missing container fails" container query "$S/nope"
  errline "a missing container gives a readable message, with the library's explanation" "^daos-rs: container open $S/nope: No such file or directory \(ENOENT\): container $S/nope does not exist$"
  expect 1 "object get from a missing container fails" object get "$S/nope" 0 1 --length 1
  errline "object get from a missing container names ENOENT" '^daos-rs: container open .*/nope: No such file or directory \(ENOENT\): container .*/nope does not exist$'
  DAOS_RS_LOG=warn run -v shard query "$C" 55
  if [ "$rc" -eq 1 ] && grep -q '^daos-rs: library warn: daos_shard_query: not found: shard 55 does not exist$' "$ERR"; then
    ok "-v prints the library's log lines as they come"
  else bad "-v prints the library's log lines as they come"; fi
  expect 1 "epoch query outside any store fails" epoch query "$D/outside"

  expect 2 "no command is bad usage" 
  expect 2 "an unknown command is bad usage" frobnicate
  expect 2 "a non-numeric shard is bad usage" shard query "$C" zero
  expect 2 "an unknown option is bad usage" container query "$C" --bogus
  local h
  for h in "" format sys "sys query" target "target info" "target disable" "target enable" "target probe" \
           container "container create" "container query" "container list-shards" "container snapshot" \
           "container unlink" shard "shard add" "shard disable" "shard query" "shard list-obj" \
           object "object put" "object get" "object punch" epoch "epoch query" "epoch commit" "epoch abort"; do
    # shellcheck disable=SC2086
    expect 0 "daos-rs $h --help" $h --help
  done
  expect 0 "daos-rs --version" --version
  expect 0 "container query --help" container query --help
  has "--help documents the --json fields" '"uid", "gid", "shards"'

  # --- completions and man pages, from the clap definitions -------------------
  expect 0 "completions bash" completions bash
  has "the bash script completes daos-rs" 'complete .*daos-rs'
  has "the bash script knows the subcommands" 'list-shards'
  expect 0 "completions zsh" completions zsh
  has "the zsh script is a compdef" '^#compdef daos-rs'
  expect 0 "completions fish" completions fish
  has "the fish script completes daos-rs" '^complete -c daos-rs'
  expect 2 "completions of an unknown shell is bad usage" completions tcsh
  expect 0 "man DIR" man "$D/man"
  if [ -s "$D/man/daos-rs.1" ] && [ -s "$D/man/daos-rs-object-get.1" ] && [ -s "$D/man/daos-rs-container-query.1" ] &&
     grep -q '^\.TH daos-rs' "$D/man/daos-rs.1" && grep -q 'needs \\-o' "$D/man/daos-rs-object-get.1"; then
    ok "man writes a page per command, with the JSON fields"
  else badnote "man writes a page per command, with the JSON fields" "$(ls "$D/man" 2>&1 | head -5)"; fi

  # --- --json on the commands that change things ------------------------------
  local J=$D/j/store
  expect 0 "format --json" --json format "$J" --no-probe
  jcheck "format --json" 'd == {"path": sys.argv[3], "targets": 1, "probed": False}' "$J"
  expect 0 "container create --json" --json container create "$J/c"
  jcheck "container create --json" 'd == {"path": sys.argv[3]}' "$J/c"
  expect 0 "shard add for --json" shard add "$J/c" --target 0
  printf 'abc' | "$BIN" --json object put "$J/c" 0 5 --offset 10 >"$OUT" 2>"$ERR"
  jcheck "object put --json" 'd["bytes"] == 3 and d["offset"] == 10 and d["object"] == 5 and d["shard"] == 0 and d["committed"] is True and d["epoch"] >= 1'
  expect 0 "object punch --json" --json object punch "$J/c" 0 5 --begin 11
  jcheck "object punch --json" 'd["begin"] == 11 and d["end"] is None and d["committed"] is True'
  expect 0 "container snapshot --json" --json container snapshot "$J/c" "$J/snap"
  jcheck "container snapshot --json" 'd["snapshot"] == sys.argv[3] and d["epoch"] >= 1' "$J/snap"
  expect 0 "shard disable --json" --json shard disable "$J/c" 0
  jcheck "shard disable --json" 'd["shards"] == [0]'
  expect 0 "target disable --json" --json target disable "$J" 0
  jcheck "target disable --json" 'd == {"target": 0, "status": "disabled", "health": None}'
  expect 0 "target enable --json" --json target enable "$J" 0 --health 80
  jcheck "target enable --json" 'd == {"target": 0, "status": "degraded", "health": 80}'
  expect 0 "container unlink --json" --json container unlink "$J/snap"
  jcheck "container unlink --json" 'd == {"path": sys.argv[3]}' "$J/snap"

  expect 0 "container unlink" container unlink "$C"
  expect 0 "target info after unlinking every container" target info "$S" 0
  has "unlinking reclaims the shards" '^space: .* 0 shards$'
}

start=$SECONDS
for ENGINE in $engines; do
  export DAOS_RS_IO_ENGINE=$ENGINE
  suite
done
echo "cli-test: $((SECONDS - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
