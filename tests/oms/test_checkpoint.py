"""Journal checkpoints and segment rotation: recovery stays exact whenever the process dies; files stay bounded."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jtrader.oms import OmsConfig, OmsEngine, RecoveryError, replay
from jtrader.oms import journal as journal_module
from jtrader.oms.journal import checkpoint_path, journal_files, segment_path
from jtrader.risk import RiskEngine, RiskLimits
from tests.oms.builders import (
    Clock,
    history,
    make_oms,
    recover,
    registry,
    replay_everything,
)

REPO = Path(__file__).resolve().parents[2]
KEEP_ALL = OmsConfig(journal_keep_segments=1_000_000)


class Killed(BaseException):
    """The process died here (BaseException: no `except Exception` in the OMS may swallow it)."""


def die_at(monkeypatch: pytest.MonkeyPatch, step: str, occurrence: int = 1) -> None:
    seen = {"n": 0}

    def reached(name: str) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(step)

    monkeypatch.setattr(journal_module, "_reached", reached)


def abandon(oms: OmsEngine) -> None:
    """Drop the dead process's file descriptor without flushing anything."""
    fd = oms.journal._fd
    if fd >= 0:
        os.close(fd)
        oms.journal._fd = -1


def test_recovery_from_a_checkpoint_equals_the_live_state_and_a_full_replay(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    oms = make_oms(journal=path, clock=clock, config=KEEP_ALL)
    for start in range(0, 40, 8):
        history(oms, clock, range(start, start + 8))
        oms.checkpoint()
    history(oms, clock, range(40, 45))
    oms.journal.close()
    restarted = recover(path, config=KEEP_ALL)
    assert restarted.snapshot() == oms.snapshot() == replay_everything(path).snapshot()
    assert restarted.recovery.checkpoint == checkpoint_path(path, 5).name
    assert restarted.recovery.segments == 1 and restarted.recovery.records > 0
    # only the records after the checkpoint were replayed
    assert restarted.recovery.records == sum(1 for _ in replay(segment_path(path, 5)))
    # and it journals on into the same segment: a second restart agrees
    history(restarted, clock, range(45, 50))
    restarted.journal.close()
    assert recover(path, config=KEEP_ALL).snapshot() == restarted.snapshot() == replay_everything(path).snapshot()


STEPS = [
    ("checkpoint_written", 1),
    ("checkpoint_synced", 1),
    ("checkpoint_renamed", 1),
    ("checkpoint_durable", 1),
    ("segment_closed", 1),
    ("segment_opened", 1),
    ("pruned", 1),  # the old segment deleted, its checkpoint not yet
    ("pruned", 2),
]


@pytest.mark.parametrize(("step", "occurrence"), STEPS)
def test_killed_at_any_step_of_a_checkpoint_the_oms_recovers_the_same_state(tmp_path, monkeypatch, step, occurrence):
    path = tmp_path / "oms.journal"
    clock = Clock()
    config = OmsConfig(journal_keep_segments=0)
    oms = make_oms(journal=path, clock=clock, config=config)
    history(oms, clock, range(0, 10))
    oms.checkpoint()  # an earlier checkpoint and segment for the next one to make redundant
    history(oms, clock, range(10, 20))
    before = oms.snapshot()
    die_at(monkeypatch, step, occurrence)
    with pytest.raises(Killed):
        oms.checkpoint()
    abandon(oms)
    monkeypatch.undo()

    restarted = recover(path, clock=clock, config=config)
    assert restarted.snapshot() == before
    assert not (tmp_path / "oms.journal.checkpoint.tmp").exists()
    # the restarted OMS journals, checkpoints and restarts again without loss
    history(restarted, clock, range(20, 25))
    restarted.checkpoint()
    history(restarted, clock, range(25, 28))
    after = restarted.snapshot()
    restarted.journal.close()
    assert recover(path, config=config).snapshot() == after


@pytest.mark.parametrize("keep", [0, 2])
def test_a_checkpoint_torn_before_it_was_renamed_is_ignored_whatever_its_length(tmp_path, monkeypatch, keep):
    path = tmp_path / "oms.journal"
    clock = Clock()
    config = OmsConfig(journal_keep_segments=keep)
    oms = make_oms(journal=path, clock=clock, config=config)
    history(oms, clock, range(0, 10))
    oms.checkpoint()
    history(oms, clock, range(10, 20))
    before = oms.snapshot()
    die_at(monkeypatch, "checkpoint_written")
    with pytest.raises(Killed):
        oms.checkpoint()
    abandon(oms)
    monkeypatch.undo()
    tmp = tmp_path / "oms.journal.checkpoint.tmp"
    whole = tmp.read_bytes()
    saved = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for cut in sorted({0, 1, 7, 23, 24, 25, len(whole) // 2, len(whole) - 1, len(whole)}):
        for name, data in saved.items():
            (tmp_path / name).write_bytes(data)
        tmp.write_bytes(whole[:cut])
        restarted = recover(path, config=config)
        assert restarted.snapshot() == before, cut
        restarted.journal.close()
        assert not tmp.exists()


def test_a_damaged_newest_checkpoint_falls_back_to_an_older_one_whose_segments_are_kept(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    config = OmsConfig(journal_keep_segments=2)
    oms = make_oms(journal=path, clock=clock, config=config)
    for start in range(0, 30, 10):
        history(oms, clock, range(start, start + 10))
        newest = oms.checkpoint()
    history(oms, clock, range(30, 33))
    oms.journal.close()
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    restarted = recover(path, config=config)
    assert restarted.snapshot() == oms.snapshot()
    assert restarted.recovery.checkpoint == checkpoint_path(path, 2).name and restarted.recovery.segments == 2
    assert (
        "damaged" in restarted.recovery.skipped_checkpoints[0]
        and newest.name in restarted.recovery.skipped_checkpoints[0]
    )


def test_a_damaged_checkpoint_without_the_segments_to_rebuild_it_is_refused_not_guessed(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    config = OmsConfig(journal_keep_segments=0)
    oms = make_oms(journal=path, clock=clock, config=config)
    history(oms, clock, range(0, 10))
    newest = oms.checkpoint()
    oms.journal.close()
    newest.write_bytes(newest.read_bytes()[:-3])
    with pytest.raises(RecoveryError, match=r"no usable checkpoint .*checkpoint-000001.*backup"):
        recover(path, config=config)


def test_recovery_never_replays_across_a_missing_segment(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    config = OmsConfig(journal_keep_segments=5)
    oms = make_oms(journal=path, clock=clock, config=config)
    for start in range(0, 30, 10):
        history(oms, clock, range(start, start + 10))
        newest = oms.checkpoint()
    history(oms, clock, range(30, 33))
    oms.journal.close()
    newest.write_bytes(b"JTRC garbage")  # the newest checkpoint is unreadable...
    segment_path(path, 2).unlink()  # ...and the older ones would need segment 2 to catch up
    with pytest.raises(RecoveryError, match=r"segments \[2\]"):
        recover(path, config=config)


@pytest.mark.parametrize("cut", range(0, 8))
def test_a_new_segment_torn_inside_its_header_recovers_and_journals_on(tmp_path, monkeypatch, cut):
    path = tmp_path / "oms.journal"
    clock = Clock()
    oms = make_oms(journal=path, clock=clock)
    history(oms, clock, range(0, 10))
    before = oms.snapshot()
    die_at(monkeypatch, "segment_opened")
    with pytest.raises(Killed):
        oms.checkpoint()
    abandon(oms)
    monkeypatch.undo()
    new_segment = segment_path(path, 1)
    new_segment.write_bytes(new_segment.read_bytes()[:cut])
    restarted = recover(path, clock=clock)
    assert restarted.snapshot() == before
    history(restarted, clock, range(10, 12))
    restarted.journal.close()
    assert recover(path).snapshot() == restarted.snapshot()


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_old_segments_are_kept_up_to_keep_segments_and_the_rest_deleted(tmp_path, keep):
    path = tmp_path / "oms.journal"
    clock = Clock()
    oms = make_oms(journal=path, clock=clock, config=OmsConfig(journal_keep_segments=keep))
    for start in range(0, 50, 10):
        history(oms, clock, range(start, start + 10))
        oms.checkpoint()
    oms.journal.close()
    files = journal_files(path)
    kept = list(range(max(0, 5 - keep), 6))
    assert sorted(files.segments) == kept
    assert sorted(files.checkpoints) == [n for n in kept if n >= 1]
    assert recover(path, config=OmsConfig(journal_keep_segments=keep)).snapshot() == oms.snapshot()


def test_checkpoints_are_taken_when_the_journal_grew_by_the_configured_records():
    config = OmsConfig(checkpoint_every_records=30, checkpoint_every_bytes=0)
    run_checkpoint_trigger(config, lambda journal: journal.records_since_checkpoint >= 30)


def test_checkpoints_are_taken_when_the_journal_grew_by_the_configured_bytes():
    config = OmsConfig(checkpoint_every_records=0, checkpoint_every_bytes=4096)
    run_checkpoint_trigger(config, lambda journal: journal.bytes_since_checkpoint >= 4096)


def run_checkpoint_trigger(config: OmsConfig, due) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "oms.journal"
        clock = Clock()
        oms = make_oms(journal=path, clock=clock, config=config)
        taken = 0
        for i in range(60):
            history(oms, clock, range(i, i + 1))
            was_due = due(oms.journal) and oms.journal.bytes_since_checkpoint >= oms._last_checkpoint_bytes
            written = oms.maybe_checkpoint()
            assert (written is not None) == was_due, i
            if written is not None:
                taken += 1
                assert oms.journal.records_since_checkpoint == 0 and oms.journal.segment == taken
        assert taken >= 2
        oms.journal.close()
        assert recover(path, config=config).snapshot() == oms.snapshot()


def test_a_checkpoint_waits_until_the_journal_is_as_large_as_the_last_checkpoint(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    oms = make_oms(journal=path, clock=clock, config=OmsConfig(checkpoint_every_records=1, checkpoint_every_bytes=0))
    history(oms, clock, range(0, 40))  # a large state
    size = oms.checkpoint().stat().st_size
    history(oms, clock, range(40, 41))
    assert oms.journal.records_since_checkpoint >= 1 and oms.journal.bytes_since_checkpoint < size
    assert oms.maybe_checkpoint() is None  # due by records, but would rewrite the whole state for a few bytes
    i = 41
    while oms.journal.bytes_since_checkpoint < size:
        history(oms, clock, range(i, i + 1))
        i += 1
    assert oms.maybe_checkpoint() is not None


def test_a_restarted_oms_counts_the_records_already_in_its_segment_toward_the_next_checkpoint(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    config = OmsConfig(checkpoint_every_records=10**9, checkpoint_every_bytes=0)
    oms = make_oms(journal=path, clock=clock, config=config)
    history(oms, clock, range(0, 10))
    oms.checkpoint()
    history(oms, clock, range(10, 20))
    records, grown = oms.journal.records_since_checkpoint, oms.journal.bytes_since_checkpoint
    oms.journal.close()
    restarted = recover(path, config=config)
    # a process that crashes more often than it checkpoints still reaches its next checkpoint
    assert restarted.journal.records_since_checkpoint == records
    assert restarted.journal.bytes_since_checkpoint == grown


def test_a_checkpoint_of_another_account_is_refused(tmp_path):
    path = tmp_path / "oms.journal"
    clock = Clock()
    oms = make_oms(journal=path, clock=clock)
    history(oms, clock, range(0, 5))
    oms.checkpoint()
    oms.journal.close()
    instruments = registry()
    with pytest.raises(RecoveryError, match="account 'acct-1', not 'other'"):
        OmsEngine.from_journal(path, instruments, RiskEngine(RiskLimits(), instruments), clock, "other")


WRITER = """
import sys, types
from pathlib import Path

tests = types.ModuleType("tests")  # the repository's tests, not a stray site-packages one
tests.__path__ = [str(Path("tests").resolve())]
sys.modules["tests"] = tests

from jtrader.oms import OmsConfig
from tests.oms.builders import Clock, recover
from tests.oms.builders import history

path = Path(sys.argv[1])
clock = Clock(int(sys.argv[2]))
config = OmsConfig(checkpoint_every_records=40, checkpoint_every_bytes=0, journal_keep_segments=1_000_000)
oms = recover(path, clock=clock, config=config)
start = len(oms.snapshot().orders)
for i in range(start, start + 100_000):
    history(oms, clock, range(i, i + 1))  # flushes
    print(i + 1, flush=True)  # orders that survive a kill from now on
    oms.maybe_checkpoint()
"""


def test_an_oms_killed_9_while_journaling_and_checkpointing_recovers_every_flushed_order(tmp_path):
    path = tmp_path / "oms.journal"
    rng = random.Random(4)
    flushed = 0
    for run in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(path), str(1_700_000_000_000_000_000 + run * 10**15)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # recovered and journaling
        assert first, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(rng.uniform(0.2, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        printed = [int(line) for line in (first + out).split()]
        flushed = max(flushed, printed[-1])
        everything = replay_everything(path).snapshot()
        recovered = recover(path, config=KEEP_ALL)
        assert recovered.snapshot() == everything
        assert len(everything.orders) >= flushed  # nothing flushed was lost
        recovered.journal.close()
    assert len(journal_files(path).checkpoints) >= 2, "no checkpoint was taken: the test proves nothing"
