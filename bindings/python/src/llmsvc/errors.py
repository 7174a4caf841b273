"""Exceptions: StatusError for what the core refused synchronously (a status code), and one
RequestError subclass per error kind for requests that were accepted and then failed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import _native

if TYPE_CHECKING:
    from .types import Attempt, Result


class LlmsvcError(Exception):
    """Base of every exception this package raises."""


class StatusError(LlmsvcError):
    """The core refused a call synchronously: `code` is the status name
    ("LLMSVC_ESCHEMA", ...), `op` the operation, `field` the document path the core's
    message names ("request.messages[1].tool_call_id"), when it names one."""

    _FIELD = re.compile(r"^((?:request|config|limits|budgets|deployment)[\w.\[\]]*)\s*:")

    def __init__(self, op: str, status: int, message: str = "") -> None:
        self.op = op
        self.status = status
        self.code = _native.STATUS_NAMES.get(status, f"status {status}")
        self.message = message or _native.lib.llmsvc_strerror(status).decode()
        m = self._FIELD.match(self.message)
        self.field: str | None = m.group(1) if m else None
        super().__init__(f"{op}: {self.code}: {self.message}")


class ClosedError(StatusError):
    """The client is closed (LLMSVC_ECLOSED)."""


class RequestError(LlmsvcError):
    """A request the core accepted that failed: the result's `error` object, with the
    attempts made. Subclasses name the kind; `kind` is the core's name for it."""

    kind: str = "unknown"

    def __init__(self, result: Result) -> None:
        err = result.error
        assert err is not None
        self.result = result
        self.kind = err.kind
        self.message = err.message
        self.http_status = err.http_status
        self.provider_message = err.provider_message
        self.provider_code = err.provider_code
        self.retry_after_ms = err.retry_after_ms
        self.request_id = result.id
        super().__init__(f"{err.kind}: {err.message}")

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        return self.result.attempts


class RateLimited(RequestError):
    kind = "rate_limited"


class InsufficientQuota(RequestError):
    kind = "insufficient_quota"


class UnsupportedRegion(RequestError):
    kind = "unsupported_region"


class AuthenticationError(RequestError):
    kind = "auth"


class PermissionDenied(RequestError):
    kind = "permission"


class BadRequest(RequestError):
    kind = "bad_request"


class NotFound(RequestError):
    kind = "not_found"


class Conflict(RequestError):
    kind = "conflict"


class ServerError(RequestError):
    kind = "server_error"


class Timeout(RequestError, TimeoutError):
    kind = "timeout"


class ConnectionFailed(RequestError, ConnectionError):
    kind = "connection"


class Cancelled(RequestError):
    """Cancelled through the core (cancel(), or a Task that was cancelled raises
    asyncio.CancelledError instead)."""

    kind = "cancelled"


class DeadlineExceeded(RequestError, TimeoutError):
    kind = "deadline_exceeded"


class ShutDown(RequestError):
    kind = "shut_down"


class InvalidRequest(RequestError):
    kind = "invalid_request"


class ProtocolError(RequestError):
    kind = "protocol"


class BudgetExceeded(RequestError):
    kind = "budget_exceeded"


class SchemaMismatch(RequestError):
    kind = "schema_mismatch"

    @property
    def pointer(self) -> str | None:
        return self.result.error.pointer if self.result.error else None


class InternalError(RequestError):
    kind = "internal"


class LoadShed(RequestError):
    kind = "load_shed"


# The class of each kind number, in the library's numbering (llmsvc_error_kind_name): each
# subclass above names its kind. A kind this package does not know (a newer core's) falls
# back to RequestError.
BY_KIND: tuple[type[RequestError], ...] = tuple(
    next((c for c in RequestError.__subclasses__() if c.kind == name), RequestError) for name in _native.KIND_NAMES
)


def error_for(result: Result, kind: int) -> RequestError:
    """The exception for a failed result, by its kind number."""
    return (BY_KIND[kind] if 0 < kind < len(BY_KIND) else RequestError)(result)


def check(op: str, status: int, err: object = None) -> None:
    """Raises StatusError for a non-OK status, with the llmsvc_error's message."""
    if status == _native.OK:
        return
    message = ""
    if err:
        _, message = _native.take_error(err)  # type: ignore[arg-type]
    cls = ClosedError if status == _native.ECLOSED else StatusError
    raise cls(op, status, message)
