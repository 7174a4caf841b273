"""The synchronous Client against the emulator: generate, stream, settings, metrics,
threads, structured output, the OpenAI-compatible surface."""

from __future__ import annotations

import threading

import pytest

import llmsvc
from llmsvc import Client, Piece, Result, StatusError

from .conftest import Emulator


def test_generate(emu: Emulator) -> None:
    with Client(emu.config("sk-sync")) as c:
        r = c.generate({"prompt": "Say hi", "operation": "greet"}, max_output_tokens=12, metadata={"row": 1})
        assert isinstance(r, Result) and r.ok and r.text
        assert r.usage is not None and r.usage.completion_tokens == 12
        assert r.operation == "greet" and r.metadata == {"row": 1}
        assert r.cost_nano_usd is not None and r.cost_usd == pytest.approx(r.cost_nano_usd / 1e9)
        assert len(r.attempts) == 1 and r.attempts[0].http_status == 200 and r.attempts[0].kind == "none"
        assert r.timing.total_ms is not None and r.timing.total_ms > 0
        assert c.generate("a prompt string").text  # a string is the prompt
    # The library may be newer than the binding: its ABI only grows.
    assert tuple(int(x) for x in llmsvc.version().split(".")) >= (0, 3, 0)


def test_stream(emu: Emulator) -> None:
    with Client(emu.config("sk-sync")) as c:
        s = c.stream(prompt="Tell a story", max_output_tokens=40)
        pieces = list(s)
        assert len(pieces) > 1 and all(isinstance(p, Piece) and p.kind == "text" for p in pieces)
        assert "".join(map(str, pieces)) == s.result.text
        assert s.result.timing.first_token_ms is not None
        assert list(s) == []  # a stream is iterated once


def test_stream_closed_early_is_cancelled(slow_emu: Emulator) -> None:
    with Client(slow_emu.config()) as c:
        with c.stream(prompt="Tell a story") as s:
            pass  # left before any piece: cancelled, its completion taken
        m = c.metrics()
        assert m["requests"]["completed"] == 1 and m["failures_by_kind"]["cancelled"] == 1


def test_threads_share_a_client(emu: Emulator) -> None:
    results: list[str] = []
    with Client(emu.config("sk-threads", limits={"concurrency": 4})) as c:

        def work(i: int) -> None:
            for j in range(10):
                results.append(c.generate(prompt=f"t{i}-{j}", max_output_tokens=3).text)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(results) == 80
        assert c.metrics()["requests"]["succeeded"] == 80


def test_settings_and_metrics(emu: Emulator) -> None:
    with Client(emu.config("sk-settings")) as c:
        c.set_limits({"rpm": 1000, "concurrency": 2})
        c.set_budgets([{"name": "b", "max_tokens": 1_000_000}])
        c.generate(prompt="x", max_output_tokens=2)
        m = c.metrics()
        assert m["gates"]["limits"]["rpm"] == 1000 and m["gates"]["limits"]["concurrency"] == 2
        assert m["budgets"][0]["name"] == "b" and m["budgets"][0]["used_tokens"] > 0
        assert "llmsvc_requests_submitted_total 1" in c.metrics_prometheus()
        with pytest.raises(StatusError) as e:
            c.set_limits({"rpm": "fast"})
        assert e.value.code == "LLMSVC_ESCHEMA" and "rpm" in e.value.message
        with pytest.raises(StatusError) as e:
            c.set_deployment({"name": "nope", "enabled": True})
        assert e.value.code == "LLMSVC_ESCHEMA"


def test_deployments(emu: Emulator) -> None:
    cfg = {"model": "gpt-4o-mini", "deployments": [
        {"name": "bad", "provider": "openai_chat", "base_url": emu.base_url, "api_key": "sk-invalid", "model": "gpt-4o-mini"},
        {"name": "good", "provider": "openai_chat", "base_url": emu.base_url, "api_key": "sk-good", "model": "gpt-4o-mini"}]}  # fmt: skip
    with Client(cfg) as c:
        for _ in range(3):
            assert c.generate(prompt="x", max_output_tokens=2).deployment == "good"
        deps = {d["name"]: d for d in c.metrics()["deployments"]}
        assert deps["bad"]["in_rotation"] is False
        c.set_deployment({"name": "bad", "enabled": True})
        assert {d["name"]: d for d in c.metrics()["deployments"]}["bad"]["in_rotation"] is True


def test_structured_output_with_pydantic(emu: Emulator) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Pet(pydantic.BaseModel):
        name: str
        age: int

    with Client(emu.config("sk-json")) as c:
        r = c.generate(prompt="Invent a pet", json_schema=Pet)
        assert isinstance(r.parsed, Pet) and r.json == r.parsed.model_dump()
        plain = c.generate(prompt="Invent a pet", json_schema={"name": "pet", "schema": Pet.model_json_schema()})
        assert plain.parsed is None and set(plain.json) == {"name", "age"}


def test_openai_compatible_create(emu: Emulator) -> None:
    with Client(emu.config("sk-compat")) as c:
        done = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        assert done.object == "chat.completion" and done.id and done.model
        assert done.choices[0].message.content and done.choices[0].finish_reason
        assert done.usage is not None and done.usage.completion_tokens == 5
        assert done.llmsvc is not None and done.llmsvc.attempts
        chunks = list(c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=8, stream=True))
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
        assert chunks[-1].choices[0].finish_reason == "length" and chunks[-1].usage is not None and text
        with pytest.raises(TypeError, match="unsupported keyword"):
            c.chat.completions.create(model="gpt-4o-mini", messages=[], functions=[])


def test_closed_client_refuses(emu: Emulator) -> None:
    c = Client(emu.config())
    c.close()
    c.close()  # idempotent
    assert c.closed
    with pytest.raises(llmsvc.ClosedError):
        c.generate(prompt="x")


def test_close_completes_pending_with_shut_down(slow_emu: Emulator) -> None:
    c = Client(slow_emu.config())
    s = c.stream(prompt="slow")  # accepted once stream() returns
    c.close()
    with pytest.raises(llmsvc.ShutDown) as e:
        list(s)
    assert e.value.kind == "shut_down"


def test_a_client_from_an_llm_yaml_file(emu: Emulator, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLMSVC_PY_POOL_KEY", "sk-py-pool-1")
    path = tmp_path / "llm.yaml"
    path.write_text(
        "providers:\n  openai:\n"
        f"    base_url: {emu.base_url}\n"
        '    api_keys: ["${LLMSVC_PY_POOL_KEY}", sk-py-pool-2]\n'
        "    models: [gpt-4o-mini]\n"
        "    rate_limits: [{requests_per_minute: 600, burst: 2}]\n"
    )
    config, warnings = llmsvc.load_config_file(path)
    assert '"openai#2"' in config
    assert warnings == ["config.providers.openai.rate_limits[0].burst: ignored"]
    with Client.from_file(path) as c:
        for i in range(4):
            assert c.generate(f"pool {i}").ok
    assert emu.stats("sk-py-pool-1")["ok"] == 2 and emu.stats("sk-py-pool-2")["ok"] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: m\nlimits: {rpm: x}\n")
    with pytest.raises(StatusError, match=r"bad\.yaml:2:15: config\.limits\.rpm"):
        Client.from_file(bad)
