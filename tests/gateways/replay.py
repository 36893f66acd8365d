"""A loopback WebSocket server that replays venue frames into a gateway and injects faults.

Binds 127.0.0.1 on a free port, runs in its own thread and event loop, and
stops in :meth:`ReplayServer.close` (every test closes it in a ``with``).

Faults, keyed by frame index:

- ``drop``        the frame is not sent (a sequence gap for the client)
- ``dup``         the frame is sent twice
- ``garbage``     a malformed frame is sent before it
- ``disconnect``  the connection is closed after the frame; the next
                  ``skip_on_disconnect`` frames go to nobody (the venue moved on)

``on_sent(index)`` runs for every frame index the venue "published" (sent,
dropped or skipped), in order, so a test can keep the venue's true state.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

from websockets.asyncio.server import serve


class ReplayServer:
    def __init__(
        self,
        frames: Sequence[str | bytes],
        faults: dict[int, str] | None = None,
        *,
        skip_on_disconnect: int = 50,
        batch: int = 100,
        on_sent: Callable[[int], None] | None = None,
        on_message: Callable[[Any, Any], Any] | None = None,
        first_frames: Callable[[], list[str | bytes]] | None = None,
    ) -> None:
        self.frames = list(frames)
        self.faults = dict(faults or {})
        self.skip_on_disconnect = skip_on_disconnect
        self.batch = batch
        self.on_sent = on_sent or (lambda _i: None)
        self.on_message = on_message
        self.first_frames = first_frames
        self.cursor = 0
        self.connections = 0
        self.received: list[Any] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="replay-server", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("replay server did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0, ping_interval=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _advance(self) -> int:
        with self.lock:
            index = self.cursor
            self.cursor += 1
            self.on_sent(index)
            return index

    async def _handler(self, ws: Any) -> None:
        self.connections += 1
        reader = asyncio.ensure_future(self._reader(ws))
        try:
            if self.first_frames is not None:
                for frame in self.first_frames():
                    await ws.send(frame)
            sent = 0
            while self.cursor < len(self.frames):
                index = self._advance()
                fault = self.faults.pop(index, "")
                frame = self.frames[index]
                if fault == "drop":
                    continue
                if fault == "garbage":
                    await ws.send('{"stream":"btcusdt@trade","data":{"e":"trade","p":')
                    await ws.send("\x00not json at all")
                await ws.send(frame)
                if fault == "dup":
                    await ws.send(frame)
                if fault == "disconnect":
                    for _ in range(self.skip_on_disconnect):
                        if self.cursor < len(self.frames):
                            self._advance()
                    await ws.close()
                    return
                sent += 1
                if sent % self.batch == 0:
                    await asyncio.sleep(0.002)
            self.done.set()
            await self._stop.wait() if self._stop else None
        except Exception:
            pass
        finally:
            reader.cancel()

    async def _reader(self, ws: Any) -> None:
        async for message in ws:
            self.received.append(message)
            if self.on_message is not None:
                reply = self.on_message(ws, message)
                if reply is not None:
                    await ws.send(reply)
