"""Embeddings read without JSON, and provider batch jobs against the emulator's Batch API."""

from __future__ import annotations

import json
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmsvc
from llmsvc import BatchJob, Client, Result

from .conftest import EMULATOR, Emulator, start_emulator, stop
from .test_results import assert_matches_document

needs_06 = pytest.mark.skipif(not llmsvc._native.HAS_06, reason="batch jobs need libllmsvc 0.6")


@pytest.fixture(scope="module")
def batch_emu() -> Iterator[Emulator]:
    """Batches that complete 50 ms after their creation."""
    if not EMULATOR:
        pytest.skip("LLMSVC_EMULATOR is not set (path to llmsvc-emulator)")
    e = start_emulator("--batch-latency-ms", "50")
    yield e
    stop(e)


@pytest.mark.skipif(not llmsvc._native.HAS_05, reason="embeddings need libllmsvc 0.5")
def test_embeddings_equal_the_document(emu: Emulator) -> None:
    with Client(emu.config("sk-embed")) as c:
        r = c.generate(model="text-embedding-3-small", input=["a", "b"], dimensions=8)
        assert_matches_document(r)
        vectors = json.loads(r.raw_json)["embeddings"]
        assert r.embeddings is not None and len(r.embeddings) == 2
        for v, d in zip(r.embeddings, vectors):
            assert isinstance(v, array) and v.typecode == "f" and len(v) == 8
            assert v == array("f", d)  # the document's 9 digits read back to the same float32
        assert r.usage is not None and r.usage.prompt_tokens and r.cost_nano_usd is not None
        assert c.generate(prompt="hi", max_output_tokens=3).embeddings is None


def add_chats(job: BatchJob, n: int) -> int:
    """Adds the chat requests r0..r(n-1); returns how many the job knew."""
    return sum(job.add(f"r{i}", prompt=f"batch line {i}", max_output_tokens=20) for i in range(n))


def check_line(r: Result) -> None:
    """A successful line, priced at half gpt-4o-mini's standard price ($0.15 / $0.60 per
    million input / output tokens), equal to its document."""
    assert r.ok, r.error
    assert_matches_document(r)
    assert r.raw["batch"] == {"id": r.batch_id, "custom_id": r.custom_id}
    assert r.batch_id and r.text and r.usage is not None
    assert r.usage.prompt_tokens is not None and r.usage.completion_tokens is not None
    assert r.cost_nano_usd == (r.usage.prompt_tokens * 150 + r.usage.completion_tokens * 600) // 2


@needs_06
def test_batch_job(batch_emu: Emulator, tmp_path: Path) -> None:
    with Client(batch_emu.config("sk-batch")) as c, c.open_batch_job(tmp_path / "job", max_requests=8, poll_ms=20) as job:
        assert add_chats(job, 20) == 0
        with pytest.raises(llmsvc.StatusError) as e:
            job.add("r0", prompt="again")
        assert e.value.code == "LLMSVC_EINVAL"
        got: dict[str, int] = {}

        def take(r: Result) -> None:
            check_line(r)
            assert r.custom_id is not None
            got[r.custom_id] = got.get(r.custom_id, 0) + 1

        assert job.run(take) == 20
        assert got == {f"r{i}": 1 for i in range(20)}
        st = job.status()
        assert (st["requests"], st["batches"]["delivered"], st["results"]["ok"]) == (20, 3, 20), st
        assert job.step(0) is True
    assert job.closed
    with pytest.raises(llmsvc.ClosedError):
        job.step(0)
    b = batch_emu.stats("sk-batch")["batches"]
    assert (b["lines_received"], b["duplicate_custom_ids"]) == (20, 0), b


@needs_06
def test_batch_job_resumes(batch_emu: Emulator, tmp_path: Path) -> None:
    """Closed after a couple of steps and opened again with the same requests: those sent are
    known, none is sent twice, each result is handed over once."""
    state = tmp_path / "job"
    got: list[str] = []

    def take(r: Result) -> None:
        check_line(r)
        got.append(r.custom_id or "")

    with Client(batch_emu.config("sk-batch-resume")) as c:
        with c.open_batch_job(state, max_requests=8, poll_ms=20) as job:
            add_chats(job, 20)
            for _ in range(2):
                job.step(0.01)
                while (r := job.next()) is not None:
                    take(r)
                job.commit()
            created = job.status()["batches"]["created"]
        with c.open_batch_job(state, max_requests=8, poll_ms=20) as job:
            known = add_chats(job, 20)
            assert created > 0 and known >= 8 * created, (created, known)
            job.run(take)
    assert sorted(got) == sorted(f"r{i}" for i in range(20))
    b = batch_emu.stats("sk-batch-resume")["batches"]
    assert (b["lines_received"], b["duplicate_custom_ids"]) == (20, 0), b


@needs_06
def test_batch_job_stop_and_client_close(batch_emu: Emulator, tmp_path: Path) -> None:
    c = Client(batch_emu.config("sk-batch-stop"))
    job = c.open_batch_job(str(tmp_path / "job"), poll_ms=20)
    job.add("a", {"prompt": "x"})
    stop = threading.Event()
    stop.set()
    assert job.run(lambda r: None, stop=stop) == 0
    c.close()  # closes the job too
    assert job.closed
    with pytest.raises(llmsvc.ClosedError):
        job.add("b", prompt="y")
    job.close()


def test_batch_job_options_are_checked(emu: Emulator, tmp_path: Path) -> None:
    if not llmsvc._native.HAS_06:
        with Client(emu.config()) as c, pytest.raises(NotImplementedError):
            c.open_batch_job(tmp_path / "job")
        return
    with Client(emu.config()) as c, pytest.raises(llmsvc.StatusError) as e:
        c.open_batch_job(tmp_path / "job", poll_ms="soon")
    assert e.value.code in ("LLMSVC_ESCHEMA", "LLMSVC_EJSON")
