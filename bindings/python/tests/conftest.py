"""Starts llmsvc-emulator ($LLMSVC_EMULATOR) on 127.0.0.1 for the tests that need it."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

EMULATOR = os.environ.get("LLMSVC_EMULATOR", "")
needs_emulator = pytest.mark.skipif(not EMULATOR, reason="LLMSVC_EMULATOR is not set (path to llmsvc-emulator)")


@dataclass
class Emulator:
    url: str
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def stats(self, key: str | None = None) -> dict[str, Any]:
        q = "" if key is None else f"?key={key}"
        with urllib.request.urlopen(f"{self.url}/_emulator/stats{q}", timeout=10) as r:
            return json.load(r)  # type: ignore[no-any-return]

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_emulator/reset", method="POST"), timeout=10).close()

    def config(self, key: str = "sk-test", provider: str = "openai_chat", **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "openai_chat": {"provider": "openai_chat", "base_url": self.base_url, "api_key": key, "model": "gpt-4o-mini"},
            "openai_responses": {"provider": "openai_responses", "base_url": self.base_url, "api_key": key, "model": "gpt-4o-mini"},
            "anthropic": {"provider": "anthropic", "base_url": self.base_url, "api_key": key, "model": "claude-3-5-haiku-latest"},
            "ollama": {"provider": "ollama", "base_url": self.url, "model": "llama3.2"},
        }[provider]
        return {**base, **extra}


def start_emulator(*flags: str) -> Emulator:
    proc = subprocess.Popen(
        [EMULATOR, "--host", "127.0.0.1", "--port", "0", *flags], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()  # exactly one line, once it listens
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return Emulator("http://" + line.split()[-1], proc)


def stop(emu: Emulator) -> None:
    emu.proc.terminate()
    try:
        emu.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emu.proc.kill()


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    """A plain emulator, with keys that fail by design."""
    if not EMULATOR:
        pytest.skip("LLMSVC_EMULATOR is not set (path to llmsvc-emulator)")
    e = start_emulator("--invalid-keys", "sk-invalid", "--quota-keys", "sk-quota")
    yield e
    stop(e)


@pytest.fixture(scope="session")
def slow_emu() -> Iterator[Emulator]:
    """Every answer takes 3 s: requests stay in flight while a test cancels or closes."""
    if not EMULATOR:
        pytest.skip("LLMSVC_EMULATOR is not set (path to llmsvc-emulator)")
    e = start_emulator("--latency-ms", "3000")
    yield e
    stop(e)
