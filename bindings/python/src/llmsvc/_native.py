"""Loads libllmsvc with ctypes and declares the C ABI of include/llmsvc.h (version 0.2)."""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_size_t,
    c_uint,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Literal

_SONAME = "libllmsvc.so.0"


def _candidates() -> list[str]:
    """Where the library may be, most explicit first."""
    found: list[str] = []
    explicit = os.environ.get("LLMSVC_LIBRARY")
    if explicit:
        return [explicit]
    bundled = Path(__file__).with_name(_SONAME)
    if bundled.exists():
        found.append(str(bundled))
    try:
        from ._build_config import LIBRARY_DIR
    except ImportError:  # running from the source tree: no build step recorded anything
        LIBRARY_DIR = None
    if LIBRARY_DIR:
        found.append(os.path.join(LIBRARY_DIR, _SONAME))
    found.append(_SONAME)  # the dynamic linker's own search (LD_LIBRARY_PATH, ld.so.cache)
    return found


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError(
        "llmsvc: cannot load libllmsvc (set LLMSVC_LIBRARY to its path, or reinstall the "
        "package with PKG_CONFIG_PATH pointing at an installed libllmsvc): " + "; ".join(errors)
    )


lib = _load()

client_p = c_void_p
result_p = c_void_p
error_p = c_void_p

COMPLETE_CB = CFUNCTYPE(None, result_p, c_void_p)
PIECE_CB = CFUNCTYPE(None, c_uint64, c_int, c_uint32, c_char_p, c_char_p, c_void_p, c_size_t, c_void_p)


def _fn(name: str, restype: object, *argtypes: object) -> None:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_fn("llmsvc_version", c_char_p)
_fn("llmsvc_version_number", c_uint32)
_fn("llmsvc_strerror", c_char_p, c_int)
_fn("llmsvc_error_kind_name", c_char_p, c_int)
_fn("llmsvc_event_type_name", c_char_p, c_uint)
_fn("llmsvc_free", None, c_void_p)
_fn("llmsvc_error_status", c_int, error_p)
_fn("llmsvc_error_message", c_char_p, error_p)
_fn("llmsvc_error_free", None, error_p)
_fn("llmsvc_client_new", c_int, POINTER(client_p), c_char_p, POINTER(error_p))
_fn("llmsvc_config_load", c_int, c_char_p, POINTER(c_void_p), POINTER(c_void_p), POINTER(error_p))
_fn("llmsvc_client_submit", c_int, client_p, c_char_p, COMPLETE_CB, c_void_p, POINTER(c_uint64), POINTER(error_p))
_fn(
    "llmsvc_client_submit_stream_pieces",
    c_int,
    client_p,
    c_char_p,
    PIECE_CB,
    COMPLETE_CB,
    c_void_p,
    POINTER(c_uint64),
    POINTER(error_p),
)
_fn("llmsvc_client_cancel", c_int, client_p, c_uint64)
_fn("llmsvc_client_poll", c_int, client_p, c_int, POINTER(result_p), POINTER(c_void_p))
_fn("llmsvc_client_fd", c_int, client_p, POINTER(c_int))
_fn("llmsvc_client_set_limits", c_int, client_p, c_char_p, POINTER(error_p))
_fn("llmsvc_client_set_budgets", c_int, client_p, c_char_p, POINTER(error_p))
_fn("llmsvc_client_set_deployment", c_int, client_p, c_char_p, POINTER(error_p))
_fn("llmsvc_client_set_event_hook", c_int, client_p, c_uint, c_uint, c_void_p, c_void_p, POINTER(error_p))
_fn("llmsvc_client_metrics", c_int, client_p, POINTER(c_void_p), POINTER(error_p))
_fn("llmsvc_client_metrics_prometheus", c_int, client_p, POINTER(c_void_p), POINTER(error_p))
_fn("llmsvc_client_close", c_int, client_p)
_fn("llmsvc_client_destroy", c_int, client_p)
_fn("llmsvc_result_id", c_uint64, result_p)
_fn("llmsvc_result_type", c_int, result_p)
_fn("llmsvc_result_kind", c_int, result_p)
_fn("llmsvc_result_text", c_void_p, result_p)
_fn("llmsvc_result_json", c_void_p, result_p, POINTER(c_size_t))
_fn("llmsvc_result_piece", c_int, result_p, POINTER(c_int), POINTER(c_uint32), POINTER(c_char_p), POINTER(c_char_p))
_fn("llmsvc_result_free", None, result_p)

# Status codes (llmsvc_status).
OK = 0
EINVAL = -1
EJSON = -2
ESCHEMA = -3
ENOMEM = -4
ECLOSED = -5
ENOTFOUND = -6
ERECURSIVE = -7
ETIMEOUT = -8
EHANDLE = -9
ESYSTEM = -10
EINTERNAL = -11

STATUS_NAMES = {
    OK: "LLMSVC_OK",
    EINVAL: "LLMSVC_EINVAL",
    EJSON: "LLMSVC_EJSON",
    ESCHEMA: "LLMSVC_ESCHEMA",
    ENOMEM: "LLMSVC_ENOMEM",
    ECLOSED: "LLMSVC_ECLOSED",
    ENOTFOUND: "LLMSVC_ENOTFOUND",
    ERECURSIVE: "LLMSVC_ERECURSIVE",
    ETIMEOUT: "LLMSVC_ETIMEOUT",
    EHANDLE: "LLMSVC_EHANDLE",
    ESYSTEM: "LLMSVC_ESYSTEM",
    EINTERNAL: "LLMSVC_EINTERNAL",
}

# llmsvc_result_type_t
RESULT_COMPLETION = 0
RESULT_DELTA = 1
RESULT_EVENT = 2

# llmsvc_piece_kind_t
PIECE_KINDS: tuple[Literal["text", "tool_call", "tool_arguments"], ...] = ("text", "tool_call", "tool_arguments")

EVENT_ALL = (1 << 6) - 1
EVENTS_WITH_CONTENT = 1

# Kind names come from the library itself (llmsvc_error_kind_name), never re-typed.
KIND_NAMES: tuple[str, ...] = tuple(
    (lib.llmsvc_error_kind_name(k) or b"unknown").decode() for k in range(64)
)
KIND_NAMES = KIND_NAMES[: KIND_NAMES.index("unknown")] if "unknown" in KIND_NAMES else KIND_NAMES
EVENT_NAMES: dict[str, int] = {
    lib.llmsvc_event_type_name(1 << i).decode(): 1 << i for i in range(6)
}


def version() -> str:
    """The runtime version of libllmsvc, "MAJOR.MINOR.PATCH"."""
    v: bytes = lib.llmsvc_version()
    return v.decode()


def take_error(err: c_void_p) -> tuple[int, str]:
    """Status and message of an llmsvc_error, which is freed."""
    status = lib.llmsvc_error_status(err)
    message = (lib.llmsvc_error_message(err) or b"").decode("utf-8", "replace")
    lib.llmsvc_error_free(err)
    return status, message


def take_string(ptr: c_void_p) -> str:
    """A string the library allocated, decoded and freed."""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.llmsvc_free(ptr)


def result_json(r: int) -> bytes:
    n = c_size_t()
    p = lib.llmsvc_result_json(r, ctypes.byref(n))
    return ctypes.string_at(p, n.value) if p else b"{}"


def result_text(r: int) -> str:
    p = lib.llmsvc_result_text(r)
    return ctypes.string_at(p).decode("utf-8", "replace") if p else ""


# Calling a prototype without arguments gives its NULL function pointer.
NULL_COMPLETE = COMPLETE_CB()
NULL_PIECE = PIECE_CB()
