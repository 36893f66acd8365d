"""Template of a venue adapter: copy this folder to ``jtrader/gateways/<venue>/`` and fill it in.

Every venue has the same files:

==================  =====================================================================
file                must / may
==================  =====================================================================
``instruments.py``  MUST: ``<venue>_instruments() -> list[Instrument]`` (ticks, lots, fees)
``parsing.py``      MUST: wire messages -> domain events (exact ticks/lots; raise
                    ``MalformedMessage`` naming what was wrong)
``data.py``         MUST: a sans-I/O :class:`jtrader.gateways.stream.Feed`: ``venue``, ``url``,
                    ``stats``, ``subscribe_frames()``, ``on_connect()``, ``on_frame()``,
                    ``on_snapshot()``; the venue's book integrity rules (sequence numbers,
                    ids, checksums); publish ``BookStatus(valid=False)`` on any break and
                    never a crossed book. MAY: REST snapshot fetcher, venue pings.
``execution.py``    MUST (for trading): an ``ExecutionClient`` (connect/send/close) mapping
                    venue errors to ``RejectReason``; over ccxt REST that is a
                    ``jtrader.gateways.ccxt_execution.VenueAdapter`` (requests from ticks and
                    lots, raw answers parsed back exactly, the venue's error codes), registered
                    in ``ccxt_execution.execution_adapter``; the shared client does threading,
                    idempotency, rate limits, clock skew, fill polling and snapshots.
``config.py``       MAY: URLs, rate limits, API-key names (keys from the environment or a
                    secrets file, never logged).
==================  =====================================================================

The shared machinery (reconnect with backoff and jitter, subscription restore,
heartbeat timeouts, snapshot fetch retries, handler isolation) lives in
:mod:`jtrader.gateways.stream`; a venue folder holds only the venue's quirks.
See ``data.py`` here for the skeleton.
"""
