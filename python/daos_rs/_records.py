"""The small records and enums the Python API returns."""

import enum
from collections import namedtuple

from . import _ffi


class ContainerStatus(enum.IntEnum):
    """A container's status at open (``Container.status``)."""
    OK = _ffi.DAOS_CONTAINER_ST_OK
    STUCK = _ffi.DAOS_CONTAINER_ST_STUCK
    FAULTY = _ffi.DAOS_CONTAINER_ST_FAULTY
    CORRUPT = _ffi.DAOS_CONTAINER_ST_CORRUPT


class EventType(enum.IntEnum):
    """``Event.type``: the operation an event was last dispatched with."""
    NONE = 0
    COMPOUND = 1
    EQ_DESTROY = 2
    SYS_OPEN = 3
    SYS_CLOSE = 4
    SYS_QUERY = 5
    SYS_QUERY_TGT = 6
    CO_OPEN = 7
    CO_CLOSE = 8
    CO_UNLINK = 9
    CO_SNAPSHOT = 10
    CO_FLUSH = 11
    CO_QUERY = 12
    CO_LS_SHARD = 13
    G2L = 14
    SHARD_ADD = 15
    SHARD_DISABLE = 16
    SHARD_QUERY = 17
    SHARD_FLUSH = 18
    SHARD_LS_OBJ = 19
    OBJ_OPEN = 20
    OBJ_CLOSE = 21
    OBJ_READ = 22
    OBJ_WRITE = 23
    OBJ_PUNCH = 24
    EP_SLIP = 25
    EP_WAIT = 26
    EP_QUERY = 27
    EP_COMMIT = 28
    EP_ABORT = 29
    NOOP = 30
    USER = 31
    SYS_LISTEN = 32
    CO_LISTEN = 33
    EP_HOLD = 34


#: The C function behind each event type (for error messages).
EVENT_CALL = {
    EventType.COMPOUND: "daos_eq_poll", EventType.SYS_OPEN: "daos_sys_open",
    EventType.SYS_CLOSE: "daos_sys_close", EventType.SYS_QUERY: "daos_sys_query",
    EventType.SYS_QUERY_TGT: "daos_sys_query_target", EventType.CO_OPEN: "daos_container_open",
    EventType.CO_CLOSE: "daos_container_close", EventType.CO_UNLINK: "daos_container_unlink",
    EventType.CO_SNAPSHOT: "daos_container_snapshot", EventType.CO_FLUSH: "daos_container_flush",
    EventType.CO_QUERY: "daos_container_query", EventType.CO_LS_SHARD: "daos_container_list_shard",
    EventType.G2L: "daos_global2local", EventType.SHARD_ADD: "daos_shard_add",
    EventType.SHARD_DISABLE: "daos_shard_disable", EventType.SHARD_QUERY: "daos_shard_query",
    EventType.SHARD_FLUSH: "daos_shard_flush", EventType.SHARD_LS_OBJ: "daos_shard_list_obj",
    EventType.OBJ_OPEN: "daos_object_open", EventType.OBJ_CLOSE: "daos_object_close",
    EventType.OBJ_READ: "daos_object_read", EventType.OBJ_WRITE: "daos_object_write",
    EventType.OBJ_PUNCH: "daos_object_punch", EventType.EP_SLIP: "daos_epoch_slip",
    EventType.EP_WAIT: "daos_epoch_wait", EventType.EP_QUERY: "daos_epoch_query",
    EventType.EP_COMMIT: "daos_epoch_commit", EventType.EP_ABORT: "daos_epoch_abort",
    EventType.NOOP: "daos_noop", EventType.USER: "daos_event_complete",
    EventType.SYS_LISTEN: "daos_sys_listen", EventType.CO_LISTEN: "daos_container_listen",
    EventType.EP_HOLD: "daos_epoch_hold",
}

ObjectId = namedtuple("ObjectId", "shard lo")
ObjectId.__doc__ = "An object id: ``shard`` (o_id_hi) and ``lo`` (o_id_lo, the object in the shard)."

EpochInfo = namedtuple("EpochInfo", "hce oldest slipped hse layout_changed")
EpochInfo.__doc__ = """``Container.epoch_query()``: HCE (highest committed epoch), the oldest
readable epoch, this handle's slipped (read reference) epoch, HSE (highest
shard epoch; > HCE only after a partly failed commit) and the last layout
change."""

HoldInfo = namedtuple("HoldInfo", "lowest own")
HoldInfo.__doc__ = """``Container.hold_query()``: the lowest epoch held by any live handle of
any process (HCE stays below it) and the epoch this handle holds; ``None`` where nothing is
held."""

WaitResult = namedtuple("WaitResult", "hce layout_changed")
WaitResult.__doc__ = "``Container.wait()``: the HCE reached and the last layout change epoch."

ContainerInfo = namedtuple("ContainerInfo", "uid gid nshard nshard_stuck nshard_disabled epoch")
ContainerInfo.__doc__ = """``Container.query()``: owner, number of shards, stuck and disabled
ones, and the epoch queried (HSE when asked for ``EPOCH_HIGHEST``)."""

Location = namedtuple("Location", "cage rack node")
Location.__doc__ = "A place in the storage tree (``-1``: unknown)."

ShardInfo = namedtuple("ShardInfo",
                       "shard epoch target type status location failovers nobjs used")
ShardInfo.__doc__ = """``Container.query_shard()``: its target, the target's type ('SSD'/'HDD')
and status, location, the number of non-empty objects and bytes used at
``epoch`` (the shard's committed epoch when asked for ``EPOCH_HIGHEST``)."""

ShardEvent = namedtuple("ShardEvent", "shard target status epoch")
ShardEvent.__doc__ = """``Container.listen()``: a shard added (status 100) or disabled
(status ``TARGET_DISABLED``) at ``epoch``."""

TargetPerf = namedtuple("TargetPerf", "read_bw read_bs write_bw write_bs iops iops_bs")
TargetPerf.__doc__ = """Measured performance of a target (0 if never probed): sequential read
and write bandwidth in MB/s with their block sizes, random read IOPS and its
block size."""

TargetSpace = namedtuple("TargetSpace", "size free nshard")
TargetSpace.__doc__ = "Space of a target: capacity and free bytes (statvfs), number of shards."

TargetAffinity = namedtuple("TargetAffinity", "cpu net_dist latency_us")
TargetAffinity.__doc__ = "Affinity: CPU (-1 none), network distance (0 local), probed latency."


class TargetInfo(namedtuple("TargetInfo",
                            "target status type location failovers perf space affinity")):
    """``Store.target(i)``: status (``TARGET_DISABLED``, ``TARGET_UNKNOWN``
    or a health 0..100), type ('SSD' or 'HDD'), current location and all
    failover locations, ``perf``, ``space``, ``affinity``."""
    __slots__ = ()

    @property
    def disabled(self):
        return self.status == _ffi.DAOS_TARGET_ST_DISABLED

    @property
    def healthy(self):
        return self.status == _ffi.DAOS_TARGET_ST_HEALTHY


TargetEvent = namedtuple("TargetEvent", "target status")
TargetEvent.__doc__ = "``Store.listen()``: a target whose status changed, and its new status."

LocKey = namedtuple("LocKey", "type id")
LocKey.__doc__ = "``Store.query()``: one footprint, ``type`` 'cage', 'rack', 'node' or 'target'."

LOC_TYPES = {_ffi.DAOS_LOC_TYP_UNKNOWN: "unknown", _ffi.DAOS_LOC_TYP_CAGE: "cage",
             _ffi.DAOS_LOC_TYP_RACK: "rack", _ffi.DAOS_LOC_TYP_NODE: "node",
             _ffi.DAOS_LOC_TYP_TARGET: "target"}


def target_type(t):
    return {_ffi.DAOS_TARGET_TYPE_SSD: "SSD", _ffi.DAOS_TARGET_TYPE_HDD: "HDD"}.get(t, t)


def locations(tl):
    locs = tuple(Location(f.lc_cage, f.lc_rack, f.lc_node)
                 for f in tl.tl_failovers[:min(tl.tl_nlocs, _ffi.DAOS_TARGET_MAX_FAILOVER)])
    cur = locs[tl.tl_current] if tl.tl_current < len(locs) else Location(-1, -1, -1)
    return cur, locs


def target_info(target, ti):
    cur, locs = locations(ti.ti_loc)
    p = ti.ti_perf
    return TargetInfo(
        target=target, status=ti.ti_status, type=target_type(ti.ti_type), location=cur,
        failovers=locs,
        perf=TargetPerf(p.tp_rdbw, p.tp_rdbw_bs, p.tp_wrbw, p.tp_wrbw_bs, p.tp_iops, p.tp_iops_bs),
        space=TargetSpace(ti.ti_space.ts_size, ti.ti_space.ts_free, ti.ti_space.ts_nshard),
        affinity=TargetAffinity(ti.ti_affinity.ta_cpu_aff, ti.ti_affinity.ta_net_dist,
                                ti.ti_affinity.ta_latency))


def shard_info(shard, epoch, si):
    cur, locs = locations(si.sai_location)
    return ShardInfo(shard=shard, epoch=epoch, target=si.sai_target,
                     type=target_type(si.sai_type), status=si.sai_status, location=cur,
                     failovers=locs, nobjs=si.sai_space.sai_nobjs, used=si.sai_space.sai_used)


def epoch_info(ei):
    return EpochInfo(ei.epi_hce.seq, ei.epi_hce_oldest.seq, ei.epi_hce_slipped.seq,
                     ei.epi_hse.seq, ei.epi_layout_changed.seq)
