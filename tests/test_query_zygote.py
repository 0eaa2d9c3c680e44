"""The zygote of a snapshot's query processes: loaded once, forking every query process of the
snapshot, shut in itself, and replaced when it fails.

What is checked is read from the kernel (``/proc``): who is whose parent, which descriptors and
limits a process has, whether a process is gone (reaped, not a zombie).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from server.services.pool import QueryLane, Target
from tests.helpers import lane_job, process_children
from tests.test_query_pool import CROSS_JOIN, LOOKUP, alive, ask, lane_of, limit_of


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def zygotes() -> list[int]:
    """This process's zygotes: the lane runs in the test's process here."""
    return process_children(os.getpid())


def test_query_processes_are_forked_from_one_loaded_zygote(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, query_timeout=0.5)
    client = app.test_client()
    before = set(zygotes())
    assert ask(client, LOOKUP)[0] == 200
    [zygote] = set(zygotes()) - before
    [first] = lane_of(app).pids()
    assert parent(first) == zygote
    # the zygote is shut in too: its socket only, room for one passed socket, no core file
    assert os.listdir(f"/proc/{zygote}/fd") == ["0"]
    assert limit_of(zygote, "Max open files") == "3"
    assert limit_of(zygote, "Max core file size") == "0"
    # a timed-out process is killed, reaped (no zombie left) and replaced by a fork of the
    # same zygote: the snapshot is not loaded again
    assert ask(client, CROSS_JOIN)[0] == 503
    assert not alive(first)
    assert ask(client, LOOKUP)[0] == 200
    replacements = lane_of(app).pids()
    assert replacements and first not in replacements
    assert {parent(pid) for pid in replacements} == {zygote}
    assert set(zygotes()) - before == {zygote}
    lane_of(app).close()
    assert gone([*replacements, zygote])


def gone(pids: list[int]) -> bool:
    """Whether every one of ``pids`` has ended and been reaped, within 10 s (a process the
    lane was starting in the background when it closed ends once it is ready)."""
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(pid) for pid in pids)


def write_snapshot(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "graph.nt").write_text(text)
    return folder


def answer(lane: QueryLane, snapshot: Path) -> tuple[object, ...]:
    return lane.run(Target(lane, snapshot, None), lane_job(), 5, 1 << 30)


def test_a_snapshots_zygote_ends_when_its_last_process_is_reaped(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    lane = lane_of(make_app(sample_dist))
    old = write_snapshot(tmp_path / "a", '<urn:x:s> <urn:x:p> "old" .\n')
    new = write_snapshot(tmp_path / "b", '<urn:x:s> <urn:x:p> "new" .\n')
    before = set(zygotes())
    assert answer(lane, old)[2] == b"o\r\nold\r\n"
    [old_zygote] = set(zygotes()) - before
    assert answer(lane, new)[2] == b"o\r\nnew\r\n"
    [new_zygote] = set(zygotes()) - before
    assert new_zygote != old_zygote and not alive(old_zygote)
    lane.close()
    assert gone([new_zygote])


def test_a_snapshot_that_does_not_load_fails_its_queries_and_is_tried_again(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    lane = lane_of(make_app(sample_dist))
    broken = write_snapshot(tmp_path / "a", "<urn:x:s> <urn:x:p> .\n")  # no object
    before = set(zygotes())
    for _ in range(2):  # each query finds the zygote gone, and says how it ended
        outcome = answer(lane, broken)
        assert outcome[0] == "exit" and outcome[1] != 0, outcome
    # each failed zygote is reaped (the lane also tries to start a process in the background
    # after each failure: its zygote fails the same way)
    deadline = time.monotonic() + 20
    while set(zygotes()) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(zygotes()) == before
    (broken / "graph.nt").write_text('<urn:x:s> <urn:x:p> "mended" .\n')
    # tried again: a query soon gets the mended snapshot (one may still meet a zygote that
    # loaded the broken file as the test mended it)
    outcomes = [answer(lane, broken) for _ in range(3)]
    assert ("answer", "csv", b"o\r\nmended\r\n", False) in outcomes, outcomes
    lane.close()


def test_a_killed_zygote_is_replaced_and_its_processes_still_stopped(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, query_timeout=10, cheap_seconds=5)
    client = app.test_client()
    before = set(zygotes())
    assert ask(client, LOOKUP)[0] == 200
    [zygote] = set(zygotes()) - before
    [pid] = lane_of(app).pids()
    os.kill(zygote, signal.SIGKILL)
    # its query process does not need it to answer
    assert ask(client, LOOKUP)[0] == 200
    assert lane_of(app).pids() == [pid]
    os.kill(pid, signal.SIGSEGV)
    # the process ended, and how is no longer known (its zygote, its parent, is gone): the
    # query fails and says so; the next one gets a process of a new zygote
    status, body = ask(client, LOOKUP)
    assert status == 503 and b"how is not known" in body, body[:200]
    assert ask(client, LOOKUP)[0] == 200
    [replacement] = set(zygotes()) - before - {zygote}
    fresh = lane_of(app).pids()
    assert fresh and {parent(pid) for pid in fresh} == {replacement}
    lane_of(app).close()
    assert gone([*fresh, replacement])
