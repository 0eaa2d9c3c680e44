"""A query process of the lane, seen from the web worker: one serving thread for query after
query (no thread per query), and the processor time it sends with each answer (the worker's
starting point for the next query's cheap-or-heavy check, without reading ``/proc``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.services.pool_child import SERVING_STACK
from server.services.pool_process import QueryProcess, Zygote
from tests.helpers import lane_job

JOB = lane_job(stack=SERVING_STACK, timeout=5.0)
HUNDRED = " ".join(str(number) for number in range(100))
MILLION = (
    f"SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?a {{ {HUNDRED} }} VALUES ?b {{ {HUNDRED} }}"
    f" VALUES ?c {{ {HUNDRED} }} }}"
)


@pytest.fixture
def process(tmp_path: Path) -> Iterator[QueryProcess]:
    (tmp_path / "graph.nt").write_text('<urn:x:s> <urn:x:p> "o" .\n')
    zygote = Zygote(tmp_path)
    started = QueryProcess(zygote, 1 << 30)
    assert started.start(time.monotonic() + 60) is None
    yield started
    started.stop()
    zygote.retire()


def ask(process: QueryProcess, job: dict[str, Any]) -> tuple[Any, ...]:
    assert process.send(job)
    return process.answer(time.monotonic() + 10, 1 << 20)


def threads(pid: int) -> set[str]:
    return set(os.listdir(f"/proc/{pid}/task"))


def test_queries_are_answered_on_one_serving_thread(process: QueryProcess) -> None:
    assert ask(process, JOB) == ("answer", "csv", b"o\r\no\r\n", False)
    before = threads(process.pid)
    assert len(before) == 2  # the main thread waits; the serving thread reads and answers
    for _ in range(5):
        assert ask(process, JOB) == ("answer", "csv", b"o\r\no\r\n", False)
    assert threads(process.pid) == before
    # a query whose stack must be larger gets a thread of its own, gone after it
    assert ask(process, {**JOB, "stack": 2 * SERVING_STACK})[0] == "answer"
    assert ended_but(process.pid, before)


def ended_but(pid: int, kept: set[str]) -> bool:
    """Whether only the threads ``kept`` remain (a joined thread leaves ``/proc`` a moment
    after its join returns)."""
    deadline = time.monotonic() + 10
    while threads(pid) != kept and time.monotonic() < deadline:
        time.sleep(0.01)
    return threads(pid) == kept


def test_each_answer_says_the_processor_time_used(process: QueryProcess) -> None:
    assert process.cpu_at_rest is None
    # forked from a loaded zygote, the process has used next to nothing: a query that counts
    # a million rows makes the figure worth comparing
    assert ask(process, {**JOB, "text": MILLION})[0] == "answer"
    said = process.cpu_at_rest
    assert said is not None and said > 0.02
    # in /proc's units (clock ticks), the reading it replaces; the process is idle now
    assert abs(process.cpu_seconds() - said) <= 2 / os.sysconf("SC_CLK_TCK")
    assert process.cpu_before() == said
