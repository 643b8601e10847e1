"""ctypes prototypes of libcascade (cascade.h), and finding the library.

Binding a new C call is one line in _PROTOTYPES: (name, restype, argtypes).
A call the loaded library does not have (an older libcascade) is left out
of the namespace instead of failing the import; the wrappers in __init__
check with has().
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, c_char, c_char_p, c_int, c_int32, c_int64,
                    c_size_t, c_uint8, c_uint32, c_uint64, c_void_p)

ID_LEN = 16
ID_TEXT_LEN = 34

# Opaque handles travel as void pointers.
handle_p = c_void_p
options_p = c_void_p
packet_p = c_void_p
id_t = c_uint8 * ID_LEN
id_p = POINTER(c_uint8)

# The callback types of cascade.h.
packet_cb = CFUNCTYPE(None, c_void_p, handle_p, packet_p)
state_cb = CFUNCTYPE(None, c_void_p, handle_p, c_int, c_char_p)
log_cb = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
request_cb = CFUNCTYPE(None, c_void_p, handle_p, c_int, id_p, packet_p)

_PROTOTYPES = [
    # general
    ("cascade_strerror", c_char_p, [c_int]),
    ("cascade_version", c_char_p, [POINTER(c_int)]),
    ("cascade_id_new", c_int, [id_p]),
    ("cascade_id_format", c_int, [id_p, POINTER(c_char), c_size_t]),
    ("cascade_id_parse", c_int, [c_char_p, id_p]),
    ("cascade_address_check", c_int, [c_char_p]),
    ("cascade_reason_str", c_char_p, [c_uint32]),
    # options
    ("cascade_options_new", c_int, [POINTER(options_p)]),
    ("cascade_options_free", None, [options_p]),
    ("cascade_options_set_url", c_int, [options_p, c_char_p]),
    ("cascade_options_set_client", c_int, [options_p, c_char_p]),
    ("cascade_options_set_secret_file", c_int, [options_p, c_char_p]),
    ("cascade_options_set_ca_file", c_int, [options_p, c_char_p]),
    ("cascade_options_set_client_cert", c_int, [options_p, c_char_p, c_char_p]),
    ("cascade_options_set_proxy", c_int, [options_p, c_char_p]),
    ("cascade_options_set_carrier", c_int, [options_p, c_int]),
    ("cascade_options_set_packet_cb", c_int, [options_p, packet_cb, c_void_p]),
    ("cascade_options_set_state_cb", c_int, [options_p, state_cb, c_void_p]),
    ("cascade_options_set_log_cb", c_int, [options_p, log_cb, c_void_p, c_int]),
    ("cascade_options_set_state_dir", c_int, [options_p, c_char_p]),
    ("cascade_options_set_state_size", c_int, [options_p, c_uint64]),
    ("cascade_options_set_queue_max", c_int, [options_p, c_uint32]),
    ("cascade_options_set_timeout", c_int, [options_p, c_int32]),
    ("cascade_options_set_reply_ttl", c_int, [options_p, c_int64]),
    ("cascade_options_set_reconnect", c_int, [options_p, c_int32, c_int32]),
    ("cascade_options_set_dead_timeout", c_int, [options_p, c_int32]),
    # open and close
    ("cascade_open", c_int, [options_p, POINTER(handle_p)]),
    ("cascade_close", c_int, [handle_p]),
    # sending
    ("cascade_send", c_int, [handle_p, c_char_p, c_char_p, c_char_p, c_size_t, c_int64,
                             c_uint32, id_p]),
    ("cascade_flush", c_int, [handle_p, c_int32]),
    ("cascade_request", c_int, [handle_p, c_char_p, c_char_p, c_char_p, c_size_t, c_int32,
                                request_cb, c_void_p, id_p]),
    ("cascade_request_ttl", c_int, [handle_p, c_char_p, c_char_p, c_char_p, c_size_t,
                                    c_int32, c_int64, request_cb, c_void_p, id_p]),
    ("cascade_reply", c_int, [handle_p, packet_p, c_char_p, c_char_p, c_size_t, id_p]),
    ("cascade_cancel", c_int, [handle_p, id_p, id_p]),
    ("cascade_state", c_int, [handle_p]),
    ("cascade_pending", c_int, [handle_p, POINTER(c_uint64)]),
    ("cascade_request_flags", c_int, [handle_p, c_char_p, c_char_p, c_char_p, c_size_t,
                                      c_int32, c_int64, c_uint32, request_cb, c_void_p, id_p]),
    ("cascade_flush_rejected", c_int, [handle_p, c_uint32, id_p, POINTER(c_uint32), c_char_p,
                                       c_size_t]),
    ("cascade_pause", c_int, [handle_p]),
    ("cascade_resume", c_int, [handle_p]),
    ("cascade_paused", c_int, [handle_p]),
    ("cascade_last_error", c_int, [handle_p, c_char_p, c_size_t]),
    # received packets
    ("cascade_packet_id", id_p, [packet_p]),
    ("cascade_packet_src", c_char_p, [packet_p]),
    ("cascade_packet_dst", c_char_p, [packet_p]),
    ("cascade_packet_command", c_char_p, [packet_p]),
    ("cascade_packet_payload", c_void_p, [packet_p, POINTER(c_size_t)]),
    ("cascade_packet_flags", c_uint32, [packet_p]),
    ("cascade_packet_kind", c_int, [packet_p]),
    ("cascade_packet_notice", c_int, [packet_p]),
    ("cascade_packet_reason", c_uint32, [packet_p]),
    ("cascade_packet_text", c_char_p, [packet_p]),
    ("cascade_packet_ref_id", id_p, [packet_p]),
    ("cascade_packet_reply_to", id_p, [packet_p]),
    ("cascade_packet_ttl", c_int64, [packet_p]),
    ("cascade_packet_hops", c_size_t, [packet_p]),
    ("cascade_packet_hop", c_int, [packet_p, c_size_t, POINTER(c_char_p), POINTER(c_int),
                                   POINTER(c_int64), POINTER(c_uint32)]),
    ("cascade_packet_dup", c_int, [packet_p, POINTER(packet_p)]),
    ("cascade_packet_free", None, [packet_p]),
]


def _candidates() -> list[str]:
    """Where libcascade may be, first match wins: $CASCADE_LIBRARY, the build
    tree this package sits in (client-sdk/.libs, as under make check), then
    the system's library path through ctypes.util.find_library."""
    out = []
    env = os.environ.get("CASCADE_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.join(here, "..", "..", ".libs", "libcascade.so")
    if os.path.exists(tree):
        out.append(os.path.normpath(tree))
    found = ctypes.util.find_library("cascade")
    if found:
        out.append(found)
    return out


def load() -> ctypes.CDLL:
    tried = _candidates()
    errors = []
    for path in tried:
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            errors.append(f"{path}: {e}")
    else:
        raise ImportError(
            "cascade: libcascade not found (tried "
            + ("; ".join(errors) if errors else "CASCADE_LIBRARY, the build tree and "
               "ctypes.util.find_library('cascade')")
            + "); install libcascade or set CASCADE_LIBRARY to the path of libcascade.so")
    lib.cascade_bound = set()
    for name, restype, argtypes in _PROTOTYPES:
        fn = getattr(lib, name, None)
        if fn is None:
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        lib.cascade_bound.add(name)
    lib.cascade_path = path
    return lib
