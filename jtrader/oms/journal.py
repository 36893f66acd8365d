"""The write-ahead journal: an append-only file of CRC-checked msgpack records.

File layout: an 8-byte header (``b"JTRJ"``, format version u16, reserved
u16), then records, each ``u32 length | u32 crc32(payload) | payload``
(little-endian), the payload a msgpack-encoded :data:`~jtrader.oms.messages.AnyRecord`.

Durability:

- :meth:`Journal.append` only encodes into a memory buffer;
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
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal
from zlib import crc32

import msgspec

from jtrader.oms.messages import AnyRecord

__all__ = ["Journal", "JournalReplay", "JournalError", "JournalCorrupt", "FsyncPolicy", "replay", "repair", "MAGIC"]

MAGIC = b"JTRJ"
FORMAT_VERSION = 1
_FILE_HEADER = struct.Struct("<4sHH")
_RECORD_HEADER = struct.Struct("<II")
_FILE_HEADER_BYTES = MAGIC + struct.pack("<HH", FORMAT_VERSION, 0)
MAX_RECORD_BYTES = 64 << 20  # larger lengths can only be garbage from a torn write

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
    ) -> None:
        if fsync not in ("batch", "interval", "none"):
            raise ValueError(f"fsync: expected 'batch', 'interval' or 'none', got {fsync!r}")
        self.path = Path(path)
        self.fsync = fsync
        self._interval = fsync_interval_ms / 1000.0
        self._monotonic = monotonic
        self._encode = msgspec.msgpack.Encoder().encode
        self._buf = bytearray()
        self._pack = _RECORD_HEADER.pack
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._unsynced = False
        self._last_sync = monotonic()
        self.records_appended = 0
        self.bytes_written = 0
        self.fsyncs = 0
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, _FILE_HEADER_BYTES)
            if fsync != "none":
                self._sync_now()

    def append(self, record: Any) -> None:
        """Encode ``record`` into the buffer; nothing reaches the file before :meth:`flush`."""
        payload = self._encode(record)
        buf = self._buf
        buf += self._pack(len(payload), crc32(payload))
        buf += payload
        self.records_appended += 1

    def flush(self) -> int:
        """Write the buffered records and fsync by policy; return the bytes written.

        When it returns, the records survive a process kill; with ``fsync="batch"``
        they also survive a machine crash.
        """
        buf = self._buf
        written = 0
        if buf:
            view = memoryview(buf)
            try:
                while written < len(buf):
                    written += os.write(self._fd, view[written:])
            finally:
                view.release()
            buf.clear()
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
    def pending_bytes(self) -> int:
        """Bytes appended but not yet written."""
        return len(self._buf)

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
