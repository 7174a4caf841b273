"""Errors by kind from the emulator's failing keys and limits, and bad input."""

from __future__ import annotations

import asyncio

import pytest

import llmsvc
from llmsvc import AsyncClient, Client, StatusError

from .conftest import Emulator, needs_emulator, start_emulator, stop


def test_insufficient_quota_not_retried(emu: Emulator) -> None:
    with Client(emu.config("sk-quota")) as c:
        with pytest.raises(llmsvc.InsufficientQuota) as e:
            c.generate(prompt="quota")
    err = e.value
    assert err.kind == "insufficient_quota" and err.http_status == 429
    assert err.provider_code == "insufficient_quota" and "quota" in (err.provider_message or "").lower()
    assert len(err.attempts) == 1 and err.attempts[0].http_status == 429
    assert emu.stats("sk-quota")["received"] == 1


def test_invalid_key_is_auth(emu: Emulator) -> None:
    with Client(emu.config("sk-invalid")) as c:
        with pytest.raises(llmsvc.AuthenticationError) as e:
            c.generate(prompt="auth")
    assert e.value.http_status == 401 and "sk-invalid" not in str(e.value.result.raw)


@needs_emulator
@pytest.mark.asyncio
async def test_rate_limited_with_retry_after() -> None:
    e = start_emulator("--rpm", "1")
    try:
        cfg = e.config("sk-rl", retry={"max_attempts": 2, "max_retry_after_ms": 1000})
        async with AsyncClient(cfg) as c:
            await c.generate(prompt="first", max_output_tokens=1)
            with pytest.raises(llmsvc.RateLimited) as err:
                await c.generate(prompt="second", max_output_tokens=1)
        assert err.value.retry_after_ms is not None and err.value.retry_after_ms > 1000
        assert err.value.attempts[-1].http_status == 429
    finally:
        stop(e)


def test_timeout_and_deadline(slow_emu: Emulator) -> None:
    cfg = slow_emu.config("sk-timeout", timeouts={"request_ms": 200}, retry={"max_attempts": 1})
    with Client(cfg) as c:
        with pytest.raises(llmsvc.Timeout) as e:
            c.generate(prompt="slow")
        assert isinstance(e.value, TimeoutError)
    with Client(slow_emu.config("sk-deadline")) as c:
        with pytest.raises(llmsvc.DeadlineExceeded):
            c.generate(prompt="slow", timeout_ms=100)


def test_budget_exceeded(emu: Emulator) -> None:
    with Client(emu.config("sk-budget", budgets=[{"name": "tiny", "max_tokens": 10}])) as c:
        with pytest.raises(llmsvc.BudgetExceeded) as e:
            c.generate(prompt="x" * 100, max_output_tokens=50)
        assert "tiny" in e.value.message and e.value.attempts == ()


def test_status_errors_name_the_field() -> None:
    with pytest.raises(StatusError) as e:
        Client({"limits": {"rpm": -1}})
    assert e.value.op == "llmsvc_client_new" and e.value.field is not None and "limits" in e.value.field
    with Client({"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x", "model": "gpt-4o-mini"}) as c:
        with pytest.raises(StatusError) as e:
            c.generate(prompt="x", temperature="hot")
        assert e.value.code == "LLMSVC_ESCHEMA" and e.value.field == "request.temperature"
        with pytest.raises(StatusError) as e:
            c.generate(prompt="x", no_such_member=1)
        assert "no_such_member" in e.value.message
        assert c.metrics()["requests"]["submitted"] == 0


def test_wrong_python_types() -> None:
    with pytest.raises(TypeError):
        Client(42)  # type: ignore[arg-type]
    with Client({"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x", "model": "m"}) as c:
        with pytest.raises(TypeError, match="request must be"):
            c.generate(42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="not JSON-serialisable"):
            c.generate(prompt="x", metadata={"when": object()})
        with pytest.raises(TypeError, match="not JSON-serialisable"):
            c.generate(prompt="x", temperature=float("nan"))
        with pytest.raises(TypeError, match="pydantic"):
            c.generate(prompt="x", json_schema=int)
        with pytest.raises(ValueError, match="unknown event type"):
            c.set_event_hook(print, ["nope"])
        assert c.metrics()["requests"]["submitted"] == 0


def test_sync_hook_that_raises_loses_nothing(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    with Client(emu.config("sk-hook")) as c:
        calls = []

        def hook(ev: llmsvc.Event) -> None:
            calls.append(ev["type"])
            raise ValueError("boom")

        c.set_event_hook(hook, ["queued", "completed"])
        r = c.generate(prompt="x", max_output_tokens=2)
        assert r.ok and calls == ["queued", "completed"]
        assert "boom" in caplog.text


@pytest.mark.asyncio
async def test_connection_refused() -> None:
    cfg = {"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x", "model": "m", "retry": {"max_attempts": 1}}
    async with AsyncClient(cfg) as c:
        with pytest.raises(llmsvc.ConnectionFailed):
            await asyncio.wait_for(c.generate(prompt="x"), 30)
