"""The write-ahead journal: append-only segment files of CRC-checked msgpack records, and checkpoints.

Segment layout: an 8-byte header (``b"JTRJ"``, format version u16, reserved
u16), then records, each ``u32 length | u32 crc32(payload) | payload``
(little-endian), the payload a msgpack-encoded :data:`~jtrader.oms.messages.AnyRecord`.

Files of the journal named ``oms.journal`` (the *base* path)::

    oms.journal                       segment 0 (a journal that never rotated is just this file)
    oms.journal.000001, .000002 ...   later segments
    oms.journal.checkpoint-000002     the full OMS state after every record of segments 0 and 1:
                                      recovery loads it and replays segments 2 onwards
    oms.journal.checkpoint.tmp        a checkpoint being written (ignored, deleted at recovery)

A checkpoint file is ``b"JTRC"``, format version u16, reserved u16, ``u64
length | u32 crc32(payload) | payload`` (msgpack). :func:`write_checkpoint`
writes the temporary file, fsyncs it, renames it into place and fsyncs the
directory, so a checkpoint either exists whole or not at all, whenever the
process dies. The OMS writes one (``OmsEngine.checkpoint``) after syncing the
current segment and only then starts the next segment and deletes old ones,
oldest first (:func:`prune`): at every instant the files on disk recover the
exact state.

Durability:

- :meth:`Journal.append` only encodes into memory (a list of framed records);
- :meth:`Journal.flush` writes the buffer with ``write(2)`` and then, by policy,
  ``fdatasync(2)``: ``"batch"`` after every flush that wrote something,
  ``"interval"`` at most every ``fsync_interval_ms``, ``"none"`` never.

The runtime calls ``flush()`` once per event-loop batch, *before* it sends that
batch's outputs (group commit): nothing reaches a venue or a client that the
journal could forget. Once ``write(2)`` returned, the data is in the OS page
cache and survives the process being killed (even ``kill -9``); only a machine
crash or power loss can lose it, and ``fsync`` is what protects against that.
With ``"interval"`` or ``"none"`` a machine crash can lose the last interval's
records although their outputs were sent: reconciliation against the venue
(:meth:`OmsEngine.reconcile`) then repairs orders and fills.

Recovery: :func:`replay` yields records until the end of the file or the first
record that is incomplete or fails its CRC (a torn tail from a crash
mid-write) and reports the bytes it ignored; :func:`repair` truncates the file
to the last good record, first copying the ignored bytes to
``<journal>.torn-<offset>`` so nothing is destroyed.

Exceptions::

    JournalError(Exception)
     +-- JournalCorrupt   not a journal, an unsupported format version, or a
                          record whose CRC is right but which does not decode
                          (written by an incompatible version)
"""

from __future__ import annotations

import mmap
import os
import re
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal
from zlib import crc32

import msgspec

from jtrader.oms.messages import AnyRecord

__all__ = [
    "Journal",
    "JournalReplay",
    "JournalError",
    "JournalCorrupt",
    "JournalFiles",
    "FsyncPolicy",
    "replay",
    "repair",
    "journal_files",
    "journal_exists",
    "segment_path",
    "checkpoint_path",
    "write_checkpoint",
    "read_checkpoint",
    "prune",
    "MAGIC",
]

MAGIC = b"JTRJ"
CHECKPOINT_MAGIC = b"JTRC"
FORMAT_VERSION = 1
_FILE_HEADER = struct.Struct("<4sHH")
_RECORD_HEADER = struct.Struct("<II")
_CHECKPOINT_HEADER = struct.Struct("<4sHHQI")
_FILE_HEADER_BYTES = MAGIC + struct.pack("<HH", FORMAT_VERSION, 0)
MAX_RECORD_BYTES = 64 << 20  # larger lengths can only be garbage from a torn write
_SEGMENT_SUFFIX = re.compile(r"\.(\d{6,})")
_CHECKPOINT_SUFFIX = re.compile(r"\.checkpoint-(\d{6,})")

FsyncPolicy = Literal["batch", "interval", "none"]
_sync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


class JournalError(Exception):
    """Base of every journal error."""


class JournalCorrupt(JournalError):
    """The file is not a readable journal; the message names the offset and what to do."""


class Journal:
    """An open journal, appending at the end of ``path``.

    Open a journal that already has records only after :func:`replay` and
    :func:`repair` (``OmsEngine.from_journal`` does both), so that new records
    never follow a torn one.

    Example::

        >>> import tempfile, pathlib
        >>> from jtrader.oms.messages import DayStarted
        >>> from decimal import Decimal
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "oms.journal"
        >>> journal = Journal(path, fsync="none")
        >>> journal.append(DayStarted(ts=1, day=0, baseline=Decimal(0)))
        >>> journal.flush() > 0
        True
        >>> journal.close()
        >>> [type(r).__name__ for r in replay(path)]
        ['DayStarted']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = "batch",
        fsync_interval_ms: float = 100.0,
        monotonic: Callable[[], float] = time.monotonic,
        record_type: Any = AnyRecord,
        segment: int = 0,
        prior_records: int = 0,
        prior_bytes: int = 0,
    ) -> None:
        if fsync not in ("batch", "interval", "none"):
            raise ValueError(f"fsync: expected 'batch', 'interval' or 'none', got {fsync!r}")
        self.base = Path(path)
        self.fsync = fsync
        self._interval = fsync_interval_ms / 1000.0
        self._monotonic = monotonic
        self._encode = msgspec.msgpack.Encoder().encode
        # Record headers and payloads alternate, joined once per flush: cheaper than growing a buffer per record.
        self._parts: list[bytes] = []
        self._pack = _RECORD_HEADER.pack
        self._unsynced = False
        self._last_sync = monotonic()
        self._records_written = 0
        self.bytes_written = 0
        self.fsyncs = 0
        # Records and bytes already journaled since the last checkpoint by an earlier process.
        self._records_mark = -prior_records
        self._bytes_mark = -prior_bytes
        self._fd = -1
        self._open_segment(segment)

    def _open_segment(self, segment: int) -> None:
        self.segment = segment
        self.path = segment_path(self.base, segment)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, _FILE_HEADER_BYTES)
            if self.fsync != "none":
                self._sync_now()
                if segment:
                    _sync_dir(self.path.parent)

    @property
    def records_appended(self) -> int:
        """Records appended by this object (written or still buffered)."""
        return self._records_written + len(self._parts) // 2

    @property
    def records_since_checkpoint(self) -> int:
        """Records appended since the last checkpoint (counting those recovered from the current segments)."""
        return self.records_appended - self._records_mark

    @property
    def bytes_since_checkpoint(self) -> int:
        """Bytes journaled (written or buffered) since the last checkpoint."""
        return self.bytes_written + self.pending_bytes - self._bytes_mark

    def rotate(self) -> None:
        """Sync and close the current segment, and continue in a new one (after a checkpoint was written).

        The old segment is fsynced whatever the policy (:meth:`sync`).
        """
        self.sync()
        os.close(self._fd)
        self._fd = -1
        _reached("segment_closed")
        self._open_segment(self.segment + 1)
        _reached("segment_opened")
        self._records_mark = self.records_appended
        self._bytes_mark = self.bytes_written + self.pending_bytes

    def append(self, record: Any) -> None:
        """Encode ``record`` into the buffer; nothing reaches the file before :meth:`flush`."""
        payload = self._encode(record)
        parts = self._parts
        parts.append(self._pack(len(payload), crc32(payload)))
        parts.append(payload)

    def flush(self) -> int:
        """Write the buffered records and fsync by policy; return the bytes written.

        When it returns, the records survive a process kill; with ``fsync="batch"``
        they also survive a machine crash.
        """
        parts = self._parts
        written = 0
        if parts:
            data = b"".join(parts)
            with memoryview(data) as view:
                while written < len(data):
                    written += os.write(self._fd, view[written:])
            self._records_written += len(parts) // 2
            parts.clear()
            self.bytes_written += written
            self._unsynced = True
        if self._unsynced and self._sync_due():
            self._sync_now()
        return written

    def _sync_due(self) -> bool:
        if self.fsync == "batch":
            return True
        return self.fsync == "interval" and self._monotonic() - self._last_sync >= self._interval

    def sync(self) -> None:
        """Flush and fsync now, whatever the policy."""
        self.flush()
        if self._unsynced:
            self._sync_now()

    def _sync_now(self) -> None:
        _sync(self._fd)
        self._unsynced = False
        self._last_sync = self._monotonic()
        self.fsyncs += 1

    @property
    def closed(self) -> bool:
        """True once closed (or if a rotation failed between segments): nothing more can be journaled."""
        return self._fd < 0

    @property
    def pending_bytes(self) -> int:
        """Bytes appended but not yet written."""
        return sum(map(len, self._parts))

    def close(self) -> None:
        """Flush, fsync (unless the policy is ``"none"``) and close; idempotent."""
        if self._fd < 0:
            return
        self.flush()
        if self._unsynced and self.fsync != "none":
            self._sync_now()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class JournalReplay:
    """An iterator over a journal's records that stops cleanly at a torn or corrupt tail.

    After iteration: ``valid_bytes`` is the length of the good prefix,
    ``ignored_bytes`` how many bytes after it were skipped, ``records`` how many
    records were read, ``torn_reason`` why reading stopped early ("" if it did not).
    """

    def __init__(self, path: str | os.PathLike[str], record_type: Any = AnyRecord) -> None:
        self.path = Path(path)
        self._decoder = msgspec.msgpack.Decoder(record_type)
        self.valid_bytes = 0
        self.ignored_bytes = 0
        self.records = 0
        self.torn_reason = ""
        self.file_bytes = 0
        self._done = False

    @property
    def record_bytes(self) -> int:
        """Bytes of the good records (``valid_bytes`` without the file header)."""
        return max(0, self.valid_bytes - _FILE_HEADER.size)

    def __iter__(self) -> Iterator[Any]:
        if self._done:
            raise JournalError(f"journal replay of {self.path} was already consumed: call replay() again")
        self._done = True
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self.file_bytes = size
            if size < _FILE_HEADER.size:
                head = handle.read()
                if head and not _FILE_HEADER_BYTES.startswith(head):
                    raise JournalCorrupt(f"{self.path} is not a jtrader journal (bad header {head!r}); move it away")
                # A crash while creating the file: nothing was ever journaled.
                self.ignored_bytes = size
                self.torn_reason = "incomplete file header" if size else ""
                return
            # Mapped, not read: a long journal is replayed without holding it all in memory.
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                yield from self._records(data, size)

    def _records(self, data: mmap.mmap, size: int) -> Iterator[Any]:
        magic, version, _ = _FILE_HEADER.unpack_from(data, 0)
        if magic != MAGIC:
            raise JournalCorrupt(f"{self.path} is not a jtrader journal (starts with {magic!r}); move it away")
        if version != FORMAT_VERSION:
            raise JournalCorrupt(
                f"{self.path} has journal format {version}, this process reads {FORMAT_VERSION}: "
                "replay it with the version that wrote it"
            )
        offset = _FILE_HEADER.size
        self.valid_bytes = offset
        decode = self._decoder.decode
        header_size = _RECORD_HEADER.size
        unpack = _RECORD_HEADER.unpack_from
        while offset < size:
            if size - offset < header_size:
                self.torn_reason = f"incomplete record header at offset {offset}"
                break
            length, checksum = unpack(data, offset)
            start = offset + header_size
            end = start + length
            if length > MAX_RECORD_BYTES or end > size:
                self.torn_reason = f"incomplete record at offset {offset} ({length} bytes announced)"
                break
            payload = data[start:end]  # a small copy: nothing keeps the mapping exported
            if crc32(payload) != checksum:
                self.torn_reason = f"CRC mismatch in the record at offset {offset}"
                break
            try:
                record = decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise JournalCorrupt(
                    f"record at offset {offset} of {self.path} passes its CRC but does not decode ({exc}): "
                    "it was written by an incompatible version; replay it with that version"
                ) from None
            offset = end
            self.valid_bytes = offset
            self.records += 1
            yield record
        self.ignored_bytes = size - self.valid_bytes


def replay(path: str | os.PathLike[str], record_type: Any = AnyRecord) -> JournalReplay:
    """Return an iterator over the records of ``path`` (empty if the file does not exist)."""
    return JournalReplay(path, record_type)


def repair(replayed: JournalReplay) -> int:
    """Truncate the journal to its last good record after a full replay; return the bytes removed.

    The removed bytes are first saved to ``<journal>.torn-<offset>``. A file
    with an incomplete header is rewritten with a fresh header.
    """
    path = replayed.path
    if not replayed._done:
        raise JournalError("repair() needs a replay that was iterated to the end")
    if not path.exists() or replayed.ignored_bytes == 0:
        return 0
    keep = replayed.valid_bytes
    with open(path, "r+b") as handle:
        handle.seek(keep)
        torn = handle.read()
        Path(f"{path}.torn-{keep}").write_bytes(torn)
        handle.truncate(keep)
        if keep == 0:
            handle.seek(0)
            handle.write(_FILE_HEADER_BYTES)
        handle.flush()
        os.fsync(handle.fileno())
    return len(torn)


# -- segments and checkpoints ---------------------------------------------------------------------


def _reached(step: str) -> None:
    """A point in a checkpoint where the process may die: crash tests replace this to stop there."""


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_path(base: str | os.PathLike[str], segment: int) -> Path:
    """The file of ``segment``: the base path itself for 0, ``<base>.000001`` and so on after."""
    base = Path(base)
    return base if segment == 0 else base.with_name(f"{base.name}.{segment:06d}")


def checkpoint_path(base: str | os.PathLike[str], segment: int) -> Path:
    """The checkpoint from which recovery replays segments ``segment`` onwards."""
    base = Path(base)
    return base.with_name(f"{base.name}.checkpoint-{segment:06d}")


def _tmp_checkpoint(base: Path) -> Path:
    return base.with_name(f"{base.name}.checkpoint.tmp")


class JournalFiles(msgspec.Struct, frozen=True):
    """The segments and checkpoints of a journal on disk, by number."""

    segments: dict[int, Path]
    checkpoints: dict[int, Path]

    @property
    def empty(self) -> bool:
        return not self.segments and not self.checkpoints


def journal_files(base: str | os.PathLike[str]) -> JournalFiles:
    """List the segments and checkpoints of the journal at ``base`` (torn-tail copies and temp files excluded)."""
    base = Path(base)
    segments: dict[int, Path] = {}
    checkpoints: dict[int, Path] = {}
    if base.exists():
        segments[0] = base
    directory = base.parent
    if directory.is_dir():
        prefix = base.name
        for entry in os.scandir(directory):
            name = entry.name
            if not name.startswith(prefix) or name == prefix:
                continue
            rest = name[len(prefix) :]
            if match := _SEGMENT_SUFFIX.fullmatch(rest):
                segments[int(match.group(1))] = directory / name
            elif match := _CHECKPOINT_SUFFIX.fullmatch(rest):
                checkpoints[int(match.group(1))] = directory / name
    return JournalFiles(dict(sorted(segments.items())), dict(sorted(checkpoints.items())))


def journal_exists(base: str | os.PathLike[str]) -> bool:
    """True when the journal at ``base`` has a segment or a checkpoint on disk (a restart, not a fresh start)."""
    return not journal_files(base).empty


def write_checkpoint(base: str | os.PathLike[str], segment: int, state: Any) -> Path:
    """Write ``state`` (a msgspec struct) as the checkpoint before ``segment``, atomically; return its path.

    Temporary file, fsync, rename over the final name, fsync of the directory:
    a process killed at any point leaves either the whole checkpoint or none.
    """
    base = Path(base)
    payload = msgspec.msgpack.encode(state)
    header = _CHECKPOINT_HEADER.pack(CHECKPOINT_MAGIC, FORMAT_VERSION, 0, len(payload), crc32(payload))
    tmp = _tmp_checkpoint(base)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in (header, payload):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        _reached("checkpoint_written")
        _sync(fd)
    finally:
        os.close(fd)
    _reached("checkpoint_synced")
    final = checkpoint_path(base, segment)
    os.replace(tmp, final)
    _reached("checkpoint_renamed")
    _sync_dir(final.parent)
    _reached("checkpoint_durable")
    return final


def read_checkpoint(path: str | os.PathLike[str], state_type: Any) -> Any:
    """Read a checkpoint written by :func:`write_checkpoint`; raises :class:`JournalCorrupt` saying what is wrong."""
    path = Path(path)
    data = path.read_bytes()
    size = _CHECKPOINT_HEADER.size
    if len(data) < size:
        raise JournalCorrupt(f"checkpoint {path} is {len(data)} bytes, shorter than its header")
    magic, version, _, length, checksum = _CHECKPOINT_HEADER.unpack_from(data, 0)
    if magic != CHECKPOINT_MAGIC:
        raise JournalCorrupt(f"{path} is not a jtrader checkpoint (starts with {magic!r})")
    if version != FORMAT_VERSION:
        raise JournalCorrupt(
            f"checkpoint {path} has format {version}, this process reads {FORMAT_VERSION}: "
            "recover with the version that wrote it"
        )
    payload = data[size:]
    if len(payload) != length or crc32(payload) != checksum:
        raise JournalCorrupt(
            f"checkpoint {path} is damaged ({len(payload)} of {length} payload bytes, CRC "
            f"{'mismatch' if len(payload) == length else 'not checked'})"
        )
    try:
        return msgspec.msgpack.decode(payload, type=state_type)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise JournalCorrupt(
            f"checkpoint {path} passes its CRC but does not decode ({exc}): it was written by an "
            "incompatible version; recover with that version"
        ) from None


def prune(base: str | os.PathLike[str], active: int, keep: int) -> list[Path]:
    """Delete segments and checkpoints older than ``active - keep``, oldest first; return what was deleted.

    ``active`` is the segment the newest checkpoint starts; segments ``active -
    keep`` .. ``active - 1`` and their checkpoints stay, for audit and as a
    fallback should the newest checkpoint be unreadable. A stale temporary
    checkpoint is deleted too.
    """
    base = Path(base)
    files = journal_files(base)
    oldest_kept = active - keep
    doomed = [(n, p) for n, p in files.segments.items() if n < oldest_kept]
    doomed += [(n, p) for n, p in files.checkpoints.items() if n < oldest_kept]
    doomed.sort(key=lambda item: (item[0], item[1].name))
    removed = []
    for _, path in doomed:
        path.unlink(missing_ok=True)
        removed.append(path)
        _reached("pruned")
    _tmp_checkpoint(base).unlink(missing_ok=True)
    return removed
