"""ctypes mirror of ``include/daos_rs.h``: every struct, constant and function.

Names are the C names. Every function has ``argtypes`` and ``restype`` set
(ctypes' default ``restype`` is ``int`` and would truncate a returned
pointer). The test suite checks this module against the header: each
struct's size and field offsets against the C compiler's, each prototype
against the header's declaration, each constant against its value.
"""

import ctypes
from ctypes import (POINTER, Structure, c_bool, c_char_p, c_int, c_int64, c_uint,
                    c_uint32, c_uint64, c_ulong, c_void_p)

from . import _lib

lib = _lib.load()

# --- constants -------------------------------------------------------------

DAOS_EPOCH_HIGHEST = 0xFFFFFFFFFFFFFFFF  # (-1) as an epoch sequence number
DAOS_EQ_WAIT = -1
DAOS_EQ_NOWAIT = 0
DAOS_RS_LOG_ERROR = 1
DAOS_RS_LOG_WARN = 2
DAOS_RS_LOG_INFO = 3
DAOS_RS_LOG_DEBUG = 4
DAOS_RS_VERSION_MAJOR = 0
DAOS_RS_VERSION_MINOR = 1
DAOS_RS_VERSION_PATCH = 0
DAOS_TARGET_ST_UNKNOWN = -2
DAOS_TARGET_ST_DISABLED = -1
DAOS_TARGET_ST_HEALTHY = 100
DAOS_LOC_UNKNOWN = -1
DAOS_TARGET_MAX_FAILOVER = 4
DAOS_COO_RO = 1
DAOS_COO_RW = 1 << 1
DAOS_COO_CREATE = 1 << 2
DAOS_COO_OWN_RECOV = 1 << 3
DAOS_RS_COO_NOCSUM = 1 << 16
DAOS_MAX_SHARDS = 1 << 20
DAOS_LIST_END = 0xFFFFFFFFFFFFFFFF
DAOS_OBJ_RO = 1 << 1
DAOS_OBJ_RW = 1 << 2
DAOS_OBJ_IO_BUFFERED = 1 << 3
DAOS_OBJ_IO_RAND = 1 << 4
DAOS_OBJ_IO_SEQ = 1 << 5
DAOS_OBJ_EXCL = DAOS_OBJ_IO_BUFFERED | DAOS_OBJ_RW
DAOS_SYS_FORMAT_NO_PROBE = 1

DAOS_EV_NONE = 0
DAOS_EV_COMPOUND = 1
DAOS_EV_EQ_DESTROY = 2
DAOS_EV_SYS_OPEN = 3
DAOS_EV_SYS_CLOSE = 4
DAOS_EV_SYS_QUERY = 5
DAOS_EV_SYS_QUERY_TGT = 6
DAOS_EV_CO_OPEN = 7
DAOS_EV_CO_CLOSE = 8
DAOS_EV_CO_UNLINK = 9
DAOS_EV_CO_SNAPSHOT = 10
DAOS_EV_CO_FLUSH = 11
DAOS_EV_CO_QUERY = 12
DAOS_EV_CO_LS_SHARD = 13
DAOS_EV_G2L = 14
DAOS_EV_SHARD_ADD = 15
DAOS_EV_SHARD_DISABLE = 16
DAOS_EV_SHARD_QUERY = 17
DAOS_EV_SHARD_FLUSH = 18
DAOS_EV_SHARD_LS_OBJ = 19
DAOS_EV_OBJ_OPEN = 20
DAOS_EV_OBJ_CLOSE = 21
DAOS_EV_OBJ_READ = 22
DAOS_EV_OBJ_WRITE = 23
DAOS_EV_OBJ_PUNCH = 24
DAOS_EV_EP_SLIP = 25
DAOS_EV_EP_WAIT = 26
DAOS_EV_EP_QUERY = 27
DAOS_EV_EP_COMMIT = 28
DAOS_EV_EP_ABORT = 29
DAOS_EV_NOOP = 30
DAOS_EV_USER = 31
DAOS_EV_SYS_LISTEN = 32
DAOS_EV_CO_LISTEN = 33
DAOS_EV_EP_HOLD = 34
DAOS_EVQ_COMPLETED = 1
DAOS_EVQ_INFLIGHT = 1 << 1
DAOS_EVQ_ALL = DAOS_EVQ_COMPLETED | DAOS_EVQ_INFLIGHT
DAOS_CONTAINER_ST_OK = 0
DAOS_CONTAINER_ST_STUCK = 1
DAOS_CONTAINER_ST_FAULTY = 2
DAOS_CONTAINER_ST_CORRUPT = 3
DAOS_TARGET_TYPE_HDD = 0
DAOS_TARGET_TYPE_SSD = 1
DAOS_LOC_TYP_UNKNOWN = 0
DAOS_LOC_TYP_CAGE = 1
DAOS_LOC_TYP_RACK = 2
DAOS_LOC_TYP_NODE = 3
DAOS_LOC_TYP_TARGET = 4
DAOS_SHARD_LS_ALL = 0
DAOS_SHARD_LS_STUCK = 1
DAOS_SHARD_LS_DISABLED = 2

# --- scalar typedefs -------------------------------------------------------

daos_ev_type_t = c_uint32
daos_container_status_t = c_uint32
daos_shard_list_t = c_uint32
daos_off_t = c_uint64
daos_ev_query_t = c_uint32
daos_size_t = c_uint64
daos_target_type_t = c_uint32
daos_loc_type_t = c_uint32
uid_t = c_uint32
gid_t = c_uint32

# --- structs ---------------------------------------------------------------


class daos_handle_t(Structure):
    _fields_ = [("cookie", c_uint64)]


class daos_ev_private(Structure):
    _fields_ = [("space", c_uint64 * 7)]


class daos_event(Structure):
    _fields_ = [("ev_type", daos_ev_type_t), ("ev_error", c_int), ("ev_private", daos_ev_private)]


class daos_epoch_t(Structure):
    _fields_ = [("seq", c_uint64)]


class daos_container_info(Structure):
    _fields_ = [("ci_uid", uid_t), ("ci_gid", gid_t), ("ci_nshard", c_uint32),
                ("ci_nshard_stuck", c_uint32), ("ci_nshard_disabled", c_uint32)]


class daos_shard_event(Structure):
    _fields_ = [("se_shard", c_uint32), ("se_target", c_uint32), ("se_status", c_int),
                ("se_epoch", daos_epoch_t)]


class daos_epoch_info(Structure):
    _fields_ = [("epi_hce", daos_epoch_t), ("epi_hce_oldest", daos_epoch_t),
                ("epi_hce_slipped", daos_epoch_t), ("epi_hse", daos_epoch_t),
                ("epi_layout_changed", daos_epoch_t)]


daos_event_comp_cb_t = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(daos_event), c_int)

#: ``void (*)(void *arg, int level, const char *msg)`` of ``daos_rs_set_log_callback``.
daos_rs_log_cb_t = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class daos_obj_id_t(Structure):
    _fields_ = [("o_id_hi", c_uint64), ("o_id_lo", c_uint64)]


class daos_mm_frag(Structure):
    _fields_ = [("mf_addr", c_void_p), ("mf_nob", daos_size_t)]


class daos_mmd(Structure):
    """The fixed part; ``mmd_frag`` (a flexible array) follows it: see ``mmd_type``."""
    _fields_ = [("mmd_nfrag", c_ulong)]


class daos_io_frag(Structure):
    _fields_ = [("if_offset", daos_off_t), ("if_nob", daos_size_t)]


class daos_iod(Structure):
    """The fixed part; ``iod_frag`` (a flexible array) follows it: see ``iod_type``."""
    _fields_ = [("iod_nfrag", c_ulong)]


_flex_types: dict = {}


def _flex(base, count_field, array_field, elem, n):
    key = (base, n)
    t = _flex_types.get(key)
    if t is None:
        t = type("%s_%d" % (base.__name__, n), (Structure,),
                 {"_fields_": [(count_field, c_ulong), (array_field, elem * n)]})
        _flex_types[key] = t
    return t


def mmd_type(n):
    """A ``struct daos_mmd`` type with room for ``n`` fragments."""
    return _flex(daos_mmd, "mmd_nfrag", "mmd_frag", daos_mm_frag, n)


def iod_type(n):
    """A ``struct daos_iod`` type with room for ``n`` extents."""
    return _flex(daos_iod, "iod_nfrag", "iod_frag", daos_io_frag, n)


class daos_location(Structure):
    _fields_ = [("lc_cage", c_int), ("lc_rack", c_int), ("lc_node", c_int)]


class daos_target_loc(Structure):
    _fields_ = [("tl_current", c_uint32), ("tl_nlocs", c_uint32),
                ("tl_failovers", daos_location * DAOS_TARGET_MAX_FAILOVER)]


class daos_shard_space(Structure):
    _fields_ = [("sai_nobjs", daos_size_t), ("sai_used", daos_size_t)]


class daos_shard_info(Structure):
    _fields_ = [("sai_target", c_uint32), ("sai_type", daos_target_type_t), ("sai_status", c_int),
                ("sai_location", daos_target_loc), ("sai_space", daos_shard_space)]


class daos_target_event(Structure):
    _fields_ = [("te_target", c_uint32), ("te_status", c_int)]


class daos_loc_key(Structure):
    _fields_ = [("lk_type", daos_loc_type_t), ("lk_id", c_uint32)]


class daos_target_perf(Structure):
    _fields_ = [("tp_rdbw", c_uint32), ("tp_rdbw_bs", c_uint32), ("tp_wrbw", c_uint32),
                ("tp_wrbw_bs", c_uint32), ("tp_iops", c_uint32), ("tp_iops_bs", c_uint32)]


class daos_target_space(Structure):
    _fields_ = [("ts_size", daos_size_t), ("ts_free", daos_size_t), ("ts_nshard", c_uint32)]


class daos_target_aff(Structure):
    _fields_ = [("ta_cpu_aff", c_int), ("ta_net_dist", c_int), ("ta_latency", c_uint64)]


class daos_target_info(Structure):
    _fields_ = [("ti_status", c_int), ("ti_type", daos_target_type_t), ("ti_loc", daos_target_loc),
                ("ti_perf", daos_target_perf), ("ti_space", daos_target_space),
                ("ti_affinity", daos_target_aff)]


#: Every struct mirrored here, by its C name (the layout test walks this).
STRUCTS = {c.__name__: c for c in (
    daos_handle_t, daos_ev_private, daos_event, daos_epoch_t, daos_container_info,
    daos_shard_event, daos_epoch_info, daos_obj_id_t, daos_mm_frag, daos_mmd, daos_io_frag,
    daos_iod, daos_location, daos_target_loc, daos_shard_space, daos_shard_info,
    daos_target_event, daos_loc_key, daos_target_perf, daos_target_space, daos_target_aff,
    daos_target_info)}

# --- functions -------------------------------------------------------------

H = daos_handle_t
E = daos_epoch_t
PH = POINTER(daos_handle_t)
PE = POINTER(daos_epoch_t)
PEV = POINTER(daos_event)

#: name -> (restype, argtypes), in the header's order.
PROTOTYPES = {
    "daos_local2global": (c_int, [H, c_void_p, POINTER(c_uint)]),
    "daos_global2local": (c_int, [c_void_p, c_uint, PH, PEV]),
    "daos_container_open": (c_int, [c_char_p, c_uint, c_uint, POINTER(daos_container_status_t), PH, PEV]),
    "daos_container_close": (c_int, [H, PEV]),
    "daos_container_unlink": (c_int, [c_char_p, PEV]),
    "daos_container_snapshot": (c_int, [H, E, c_char_p, PEV]),
    "daos_container_query": (c_int, [H, PE, POINTER(daos_container_info), PEV]),
    "daos_container_list_shard": (c_int, [H, E, daos_shard_list_t, POINTER(daos_off_t), c_uint,
                                          POINTER(c_uint), PEV]),
    "daos_container_listen": (c_int, [H, POINTER(c_uint), POINTER(daos_shard_event), PEV]),
    "daos_container_flush": (c_int, [H, E, PEV]),
    "daos_epoch_slip": (c_int, [H, E, PEV]),
    "daos_epoch_wait": (c_int, [H, PE, PE, PEV]),
    "daos_epoch_query": (c_int, [H, POINTER(daos_epoch_info), PEV]),
    "daos_epoch_commit": (c_int, [H, E, c_bool, POINTER(c_uint), PEV]),
    "daos_epoch_abort": (c_int, [H, E, POINTER(c_uint), PEV]),
    "daos_epoch_hold": (c_int, [H, PE, PEV]),
    "daos_epoch_hold_query": (c_int, [H, PE, PE, PEV]),
    "daos_eq_create": (c_int, [PH]),
    "daos_eq_destroy": (c_int, [H]),
    "daos_eq_poll": (c_int, [H, c_int, c_int64, c_int, POINTER(PEV)]),
    "daos_eq_query": (c_int, [H, daos_ev_query_t, c_uint, POINTER(PEV)]),
    "daos_eq_destroy_force": (c_int, [H]),
    "daos_eq_get_fd": (c_int, [H, POINTER(c_int)]),
    "daos_eq_plug": (c_int, [H]),
    "daos_eq_unplug": (c_int, [H]),
    "daos_event_init": (c_int, [PEV, H, PEV]),
    "daos_event_fini": (c_int, [PEV]),
    "daos_event_next": (PEV, [PEV, PEV]),
    "daos_event_abort": (c_int, [PEV]),
    "daos_noop": (c_int, [PEV, c_uint64]),
    "daos_event_launch": (c_int, [PEV]),
    "daos_event_complete": (c_int, [PEV, c_int]),
    "daos_event_test": (c_int, [PEV, c_int64, POINTER(c_bool)]),
    "daos_event_register_comp_cb": (c_int, [PEV, daos_event_comp_cb_t, c_void_p]),
    "daos_rs_version": (c_int, [POINTER(c_int), POINTER(c_int), POINTER(c_int)]),
    "daos_rs_container_props": (c_int, [H, POINTER(c_uint)]),
    "daos_rs_set_log_callback": (c_int, [daos_rs_log_cb_t, c_void_p]),
    "daos_object_open": (c_int, [H, daos_obj_id_t, c_uint, PH, PEV]),
    "daos_object_close": (c_int, [H, PEV]),
    "daos_object_read": (c_int, [H, E, c_void_p, c_void_p, PEV]),
    "daos_object_write": (c_int, [H, E, c_void_p, c_void_p, PEV]),
    "daos_object_punch": (c_int, [H, E, daos_obj_id_t, daos_off_t, daos_off_t, PEV]),
    "daos_object_size": (c_int, [H, E, POINTER(daos_size_t)]),
    "daos_shard_add": (c_int, [H, E, c_uint, POINTER(c_uint), POINTER(c_int), PEV]),
    "daos_shard_disable": (c_int, [H, E, c_uint, POINTER(c_int), PEV]),
    "daos_shard_query": (c_int, [H, PE, c_uint, POINTER(daos_shard_info), PEV]),
    "daos_shard_flush": (c_int, [H, E, c_uint, PEV]),
    "daos_shard_list_obj": (c_int, [H, E, c_uint, POINTER(daos_off_t), daos_size_t,
                                    POINTER(daos_obj_id_t), PEV]),
    "daos_sys_format": (c_int, [c_char_p, c_uint, POINTER(c_char_p), c_uint]),
    "daos_sys_open": (c_int, [c_char_p, PH, PEV]),
    "daos_sys_close": (c_int, [H, PEV]),
    "daos_sys_listen": (c_int, [H, POINTER(c_uint), POINTER(daos_target_event), PEV]),
    "daos_sys_query": (c_int, [H, POINTER(daos_location), c_uint, POINTER(c_uint),
                               POINTER(daos_loc_key), PEV]),
    "daos_sys_query_target": (c_int, [H, c_uint, POINTER(daos_target_info), PEV]),
    "daos_sys_target_set_status": (c_int, [H, c_uint, c_int]),
}

for _name, (_res, _args) in PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
del _name, _res, _args, _f
