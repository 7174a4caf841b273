"""Loads libllmsvc with ctypes and declares the C ABI of include/llmsvc.h (version 0.3; the
0.4 keys of typed results, 0.5's embeddings and 0.6's batch jobs are used when the library
has them)."""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Literal

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


def _fn(name: str, restype: object, *argtypes: object) -> None:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_fn("llmsvc_version", c_char_p)
_fn("llmsvc_version_number", c_uint32)
if lib.llmsvc_version_number() < 300:
    raise ImportError(
        f"llmsvc: {lib._name} is libllmsvc {lib.llmsvc_version().decode()}, but this package needs 0.3 or newer "
        "(set LLMSVC_LIBRARY to a newer libllmsvc.so.0, or reinstall the package against one)"
    )
# The library's version number (MAJOR * 10000 + MINOR * 100 + PATCH): 0.4 added the keys
# telemetry reads (provider, server address and port, gate waits).
VERSION_NUMBER: int = lib.llmsvc_version_number()
HAS_04 = VERSION_NUMBER >= 400
HAS_05 = VERSION_NUMBER >= 500  # embeddings read without JSON (llmsvc_result_embedding)
HAS_06 = VERSION_NUMBER >= 600  # provider batch jobs (llmsvc_batch_job_*)

client_p = c_void_p
result_p = c_void_p
error_p = c_void_p

COMPLETE_CB = CFUNCTYPE(None, result_p, c_void_p)
PIECE_CB = CFUNCTYPE(None, c_uint64, c_int, c_uint32, c_char_p, c_char_p, c_void_p, c_size_t, c_void_p)

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
_fn("llmsvc_client_submit_stream_pieces", c_int, client_p, c_char_p, PIECE_CB, COMPLETE_CB, c_void_p, POINTER(c_uint64),
    POINTER(error_p))
_fn("llmsvc_client_cancel", c_int, client_p, c_uint64)
_fn("llmsvc_client_cancel_async", c_int, client_p, c_uint64)
_fn("llmsvc_client_fd", c_int, client_p, POINTER(c_int))
_fn("llmsvc_client_set_limits", c_int, client_p, c_char_p, POINTER(error_p))
_fn("llmsvc_client_set_budgets", c_int, client_p, c_char_p, POINTER(error_p))
_fn("llmsvc_client_set_deployment", c_int, client_p, c_char_p, POINTER(error_p))
_fn("llmsvc_client_set_event_hook", c_int, client_p, c_uint, c_uint, c_void_p, c_void_p, POINTER(error_p))
_fn("llmsvc_client_metrics", c_int, client_p, POINTER(c_void_p), POINTER(error_p))
_fn("llmsvc_client_metrics_prometheus", c_int, client_p, POINTER(c_void_p), POINTER(error_p))
_fn("llmsvc_client_pause", c_int, client_p, c_int)
_fn("llmsvc_client_close", c_int, client_p)
_fn("llmsvc_client_close_async", c_int, client_p, c_void_p, c_void_p)
_fn("llmsvc_client_destroy", c_int, client_p)
if HAS_06:  # calls that block (provider calls): the GIL is released
    _fn("llmsvc_batch_job_open", c_int, client_p, c_char_p, c_char_p, POINTER(c_void_p), POINTER(error_p))
    _fn("llmsvc_batch_job_add", c_int, c_void_p, c_char_p, c_char_p, c_size_t, POINTER(c_int), POINTER(error_p))
    _fn("llmsvc_batch_job_step", c_int, c_void_p, c_int, POINTER(error_p))
    _fn("llmsvc_batch_job_next", result_p, c_void_p)
    _fn("llmsvc_batch_job_commit", c_int, c_void_p, POINTER(error_p))
    _fn("llmsvc_batch_job_status", c_int, c_void_p, POINTER(c_void_p))
    _fn("llmsvc_batch_job_close", None, c_void_p)


# The same library, called without releasing the GIL: for calls that take a few hundred
# nanoseconds and never wait (the engine never waits for Python while it holds a lock
# that these calls take).
_quick = ctypes.PyDLL(lib._name)


def _unchecked(name: str, restype: Any) -> Any:
    """A function called without argument conversion, which costs more than these calls:
    the result (or client) is passed as a c_void_p, keys and counts as int, out parameters
    by reference, NULL as None."""
    f = _quick[name]
    f.restype = restype
    return f


# The calls made per result, in the event loop's path (the poll never waits: timeout 0).
poll_batch = _unchecked("llmsvc_client_poll_batch", c_int)
result_id = _unchecked("llmsvc_result_id", c_uint64)
result_type = _unchecked("llmsvc_result_type", c_int)
result_json = _unchecked("llmsvc_result_json", c_char_p)  # a document never holds a NUL
result_string = _unchecked("llmsvc_result_string", c_char_p)  # up to a NUL: the length says if that is all
result_string_ptr = _unchecked("llmsvc_result_string", c_void_p)
result_numbers = _unchecked("llmsvc_result_numbers", c_size_t)
result_attempt = _unchecked("llmsvc_result_attempt", c_size_t)
result_piece = _unchecked("llmsvc_result_piece", c_int)
result_free = _unchecked("llmsvc_result_free", None)
# Vector i of an embeddings result (0.5): its floats, owned by the result, and their number.
result_embedding: Any = _unchecked("llmsvc_result_embedding", c_void_p) if HAS_05 else None

# Status codes (llmsvc_status): 0, -1, -2, ... in this order.
_STATUSES = "OK EINVAL EJSON ESCHEMA ENOMEM ECLOSED ENOTFOUND ERECURSIVE ETIMEOUT EHANDLE ESYSTEM EINTERNAL".split()
OK, EINVAL, EJSON, ESCHEMA, ENOMEM, ECLOSED, ENOTFOUND, ERECURSIVE, ETIMEOUT, EHANDLE, ESYSTEM, EINTERNAL = range(0, -12, -1)
STATUS_NAMES = {-i: "LLMSVC_" + name for i, name in enumerate(_STATUSES)}

RESULT_DELTA = 1  # llmsvc_result_type_t: a streamed piece

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


# llmsvc_result_str_t keys the binding reads; numbers (llmsvc_result_num_t) are read all at
# once, attempts (llmsvc_attempt_num_t) one call each. The keys new in 0.4 (STR_PROVIDER,
# STR_SERVER_ADDRESS, NUM_SERVER_PORT, NUM_GATE_WAIT_NS, ATTEMPT_GATE_WAIT_NS) read as
# unknown from a 0.3 library: numbers it does not have stay LLMSVC_UNKNOWN, and the strings
# are only asked of a 0.4 one (HAS_04). Likewise 0.5's NUM_EMBEDDINGS (HAS_05) and 0.6's
# STR_BATCH_ID and STR_CUSTOM_ID (HAS_06).
(STR_MODEL, STR_RESPONSE_MODEL, STR_RESPONSE_ID, STR_FINISH_REASON, STR_OPERATION, STR_DEPLOYMENT, STR_SERVICE_TIER,
 STR_ERROR_KIND, STR_ERROR_MESSAGE, STR_PROVIDER_ERROR_TYPE, STR_PROVIDER_ERROR_CODE, STR_PROVIDER_MESSAGE,
 STR_THINKING, STR_TRACE_ID, STR_TEXT, STR_PROVIDER, STR_SERVER_ADDRESS, STR_BATCH_ID, STR_CUSTOM_ID) = range(19)  # fmt: skip
NUM_COUNT = 22
ATTEMPT_COUNT = 11
UNKNOWN = -(1 << 63)  # LLMSVC_UNKNOWN
BACKOFF_SOURCES = (None, "client", "server", "unknown")  # LLMSVC_ATTEMPT_BACKOFF_SOURCE; then a newer one
CACHE_HITS: tuple[Literal["memory", "sqlite"] | None, ...] = (None, "memory", "sqlite")  # LLMSVC_NUM_CACHE_HIT


# Calling a prototype without arguments gives its NULL function pointer.
NULL_COMPLETE = COMPLETE_CB()
NULL_PIECE = PIECE_CB()
