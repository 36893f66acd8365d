"""Record raw frames of a live gateway in the capture format of the sample data, one file per hour.

Each frame becomes one line ``<receive time, ns> <JSON>`` (the frame's text;
Huobi's gzip frames are stored decompressed) in
``<out>/<venue>/<symbol or 'multi'>_<YYYYMMDD>_<HH>.gz``. Files rotate on
the receive-time hour; each line is written whole and the gzip member is
flushed at rotation and on close, so a killed recorder leaves every line
before the last readable (``iter_capture`` reads truncated files). The output
is read back by ``jtrader.gateways.binance.parsing.iter_capture`` and, for
Binance, by the ingest and the crawl (``capture`` source).

Exceptions::

    OSError   the output folder cannot be written (raised from ``record``)
"""

from __future__ import annotations

import datetime as dt
import gzip
import threading
from pathlib import Path

__all__ = ["HourlyCaptureWriter"]


class HourlyCaptureWriter:
    """Append ``(ts_recv, frame)`` lines to hourly gzip files; thread-safe; ``close()`` flushes."""

    def __init__(self, out_dir: Path, venue: str, name: str) -> None:
        self.dir = Path(out_dir) / venue
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.lines = 0
        self.files: list[Path] = []
        self._hour: int | None = None
        self._handle: gzip.GzipFile | None = None
        self._lock = threading.Lock()

    def path_for(self, ts_ns: int) -> Path:
        when = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC)
        return self.dir / f"{self.name}_{when:%Y%m%d_%H}.gz"

    def write(self, ts_recv: int, frame: str | bytes) -> None:
        if isinstance(frame, bytes) and frame[:2] == b"\x1f\x8b":
            frame = gzip.decompress(frame)
        data = frame.encode() if isinstance(frame, str) else frame
        data = data.replace(b"\n", b" ")
        hour = ts_recv // 3_600_000_000_000
        with self._lock:
            if hour != self._hour:
                self._rotate(ts_recv, hour)
            assert self._handle is not None
            self._handle.write(b"%d %s\n" % (ts_recv, data))
            self.lines += 1

    def _rotate(self, ts_recv: int, hour: int) -> None:
        if self._handle is not None:
            self._handle.close()
        path = self.path_for(ts_recv)
        self._handle = gzip.open(path, "ab")  # noqa: SIM115 - kept open across writes  # a new gzip member if the hour's file exists (restart)
        self._hour = hour
        self.files.append(path)

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
