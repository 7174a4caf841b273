"""The examples run to completion against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Emulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("sync_basic.py", [], "attempt(s)"),
        ("async_batch.py", ["60000"], "{'ok': 1000}"),
        ("streaming.py", [], "tokens]"),
        ("tool_loop.py", ["openai_chat"], "answered after 2 round(s)"),
        ("tool_loop.py", ["anthropic"], "answered after 2 round(s)"),
    ],
)
def test_example(emu: Emulator, script: str, args: list[str], expect: str) -> None:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": emu.base_url,
        "OPENAI_API_KEY": "sk-examples",
        "ANTHROPIC_BASE_URL": emu.base_url,
        "ANTHROPIC_API_KEY": "sk-examples",
        "OLLAMA_HOST": emu.url,
    }
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert expect in out.stdout
