"""The write-ahead journal: framing, fsync policies, torn tails, corruption, and surviving kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from jtrader.bus.messages import RejectReason, RequestKind, VenueAck, VenueFill
from jtrader.domain import Side
from jtrader.oms import (
    AmendRequested,
    CancelRequested,
    CommandRejected,
    DayStarted,
    FundingApplied,
    Journal,
    JournalCorrupt,
    JournalError,
    OrderAccepted,
    RiskStateChanged,
    VenueEventApplied,
    repair,
    replay,
)
from jtrader.oms.journal import MAGIC
from tests.oms.builders import LINEAR, make_fill, submit

REPO = Path(__file__).resolve().parents[2]


def every_record_kind() -> list:
    return [
        OrderAccepted(1, b"host", submit("c1")),
        OrderAccepted(2, "operator", submit("c2", side=Side.SELL)),
        CommandRejected(3, b"host", "c3", RequestKind.CANCEL, RejectReason.UNKNOWN_ORDER, "no order"),
        CancelRequested(4, b"host", ["c1", "c2"], "mass_cancel"),
        AmendRequested(5, b"host", "c1", 7, None),
        VenueEventApplied(6, VenueAck(client_order_id="c1", venue_order_id="v1")),
        VenueEventApplied(7, VenueFill(fill=make_fill("c1", 2, fee="0.001"))),
        RiskStateChanged(8, True, "daily loss", "risk"),
        RiskStateChanged(9, False, "reset", "alice", Decimal("-12.5")),
        FundingApplied(10, "acct", LINEAR.id, Decimal("0.0001"), 600_000, Decimal("-6.0")),
        DayStarted(11, 19_676, Decimal("0")),
    ]


def write(path: Path, records: list, fsync: str = "none") -> list[int]:
    """Write ``records`` one flush each; return the file size after each."""
    sizes = []
    with Journal(path, fsync=fsync) as journal:
        for record in records:
            journal.append(record)
            journal.flush()
            sizes.append(path.stat().st_size)
    return sizes


def test_every_record_kind_round_trips_exactly(tmp_path):
    records = every_record_kind()
    write(tmp_path / "j", records)
    replayed = replay(tmp_path / "j")
    assert list(replayed) == records
    assert replayed.records == len(records) and replayed.ignored_bytes == 0 and replayed.torn_reason == ""
    # the sender keeps its type: bytes identities stay bytes
    assert [type(r.sender) for r in records[:2]] == [bytes, str]


def test_append_buffers_until_flush(tmp_path):
    journal = Journal(tmp_path / "j", fsync="none")
    journal.append(DayStarted(1, 1, Decimal(0)))
    assert list(replay(tmp_path / "j")) == [] and journal.pending_bytes > 0
    journal.flush()
    assert len(list(replay(tmp_path / "j"))) == 1 and journal.pending_bytes == 0
    journal.close()


def test_missing_journal_replays_as_empty(tmp_path):
    replayed = replay(tmp_path / "absent")
    assert list(replayed) == [] and replayed.valid_bytes == 0


def test_torn_tail_at_every_byte_offset_of_the_last_record_keeps_the_records_before_it(tmp_path):
    records = every_record_kind()
    sizes = write(tmp_path / "full", records)
    data = (tmp_path / "full").read_bytes()
    start = sizes[-2]  # where the last record begins
    for cut in range(start, len(data)):
        path = tmp_path / f"cut-{cut}"
        path.write_bytes(data[:cut])
        replayed = replay(path)
        assert list(replayed) == records[:-1], cut
        assert replayed.valid_bytes == start and replayed.ignored_bytes == cut - start
        assert (replayed.torn_reason != "") == (cut > start)
        assert repair(replayed) == cut - start
        assert path.stat().st_size == start
        if cut > start:
            assert Path(f"{path}.torn-{start}").read_bytes() == data[start:cut]  # nothing destroyed
        # appending after the repair yields a clean journal again
        with Journal(path, fsync="none") as journal:
            journal.append(records[-1])
        assert list(replay(path)) == records


def test_corrupt_last_record_is_treated_as_a_torn_tail(tmp_path):
    records = every_record_kind()
    sizes = write(tmp_path / "j", records)
    data = bytearray((tmp_path / "j").read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "j").write_bytes(bytes(data))
    replayed = replay(tmp_path / "j")
    assert list(replayed) == records[:-1]
    assert "CRC mismatch" in replayed.torn_reason and replayed.valid_bytes == sizes[-2]


def test_absurd_length_is_treated_as_a_torn_tail(tmp_path):
    write(tmp_path / "j", every_record_kind()[:1])
    with open(tmp_path / "j", "ab") as handle:
        handle.write(b"\xff\xff\xff\xff\x00\x00\x00\x00garbage")
    replayed = replay(tmp_path / "j")
    assert len(list(replayed)) == 1 and "incomplete record" in replayed.torn_reason


def test_file_torn_inside_its_header_recovers_as_empty_and_gets_a_fresh_header(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(MAGIC[:3])
    replayed = replay(path)
    assert list(replayed) == [] and replayed.ignored_bytes == 3
    repair(replayed)
    with Journal(path, fsync="none") as journal:
        journal.append(DayStarted(1, 1, Decimal(0)))
    assert len(list(replay(path))) == 1


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(b"PK\x03\x04 this is a zip file")
    with pytest.raises(JournalCorrupt, match="not a jtrader journal"):
        list(replay(path))


def test_unsupported_format_version_is_refused(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(MAGIC + b"\x09\x00\x00\x00")
    with pytest.raises(JournalCorrupt, match="format 9"):
        list(replay(path))


def test_record_with_good_crc_that_does_not_decode_is_refused_not_truncated(tmp_path):
    path = tmp_path / "j"
    with Journal(path, fsync="none") as journal:
        journal.append(["not_a_record_kind", 1])
    with pytest.raises(JournalCorrupt, match="incompatible version"):
        list(replay(path))


def test_replay_can_be_consumed_once(tmp_path):
    write(tmp_path / "j", every_record_kind()[:1])
    replayed = replay(tmp_path / "j")
    list(replayed)
    with pytest.raises(JournalError):
        list(replayed)


def test_fsync_batch_syncs_once_per_flush_and_none_never(tmp_path):
    batch = Journal(tmp_path / "b", fsync="batch")
    base = batch.fsyncs
    for _ in range(3):
        for _ in range(100):
            batch.append(DayStarted(1, 1, Decimal(0)))
        batch.flush()
    batch.flush()  # nothing new: no fsync
    assert batch.fsyncs - base == 3
    batch.close()
    none = Journal(tmp_path / "n", fsync="none")
    none.append(DayStarted(1, 1, Decimal(0)))
    none.flush()
    none.close()
    assert none.fsyncs == 0


def test_fsync_interval_syncs_at_most_every_interval(tmp_path):
    now = [0.0]
    journal = Journal(tmp_path / "i", fsync="interval", fsync_interval_ms=10, monotonic=lambda: now[0])
    base = journal.fsyncs
    for step in range(10):  # 10 flushes, 3 ms apart: 30 ms
        now[0] = step * 0.003
        journal.append(DayStarted(1, 1, Decimal(0)))
        journal.flush()
    assert journal.fsyncs - base == 2  # at 12 ms and 24 ms
    journal.close()  # the tail is synced on close
    assert journal.fsyncs - base == 3


def test_bad_fsync_policy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'batch', 'interval' or 'none'"):
        Journal(tmp_path / "j", fsync="sometimes")  # type: ignore[arg-type]


def test_flushed_records_survive_kill_9_even_without_fsync(tmp_path):
    path = tmp_path / "j"
    script = textwrap.dedent(
        f"""
        import os, signal
        from decimal import Decimal
        from jtrader.oms import Journal, DayStarted
        journal = Journal({str(path)!r}, fsync="none")
        for i in range(1000):
            journal.append(DayStarted(i, i, Decimal(i)))
        journal.flush()
        journal.append(DayStarted(-1, -1, Decimal(0)))  # appended, never flushed: lost
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    records = list(replay(path))
    assert [r.day for r in records] == list(range(1000))


def test_journal_file_is_append_only(tmp_path):
    path = tmp_path / "j"
    write(path, every_record_kind()[:2])
    first = path.read_bytes()
    write(path, every_record_kind()[2:4])
    assert path.read_bytes().startswith(first)
    assert os.path.getsize(path) > len(first)
