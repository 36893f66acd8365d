"""A loopback HTTP endpoint serving Prometheus ``/metrics`` and a JSON ``/health``.

It binds 127.0.0.1 unless told otherwise, runs in a daemon thread, and never
raises into the trading loop: a failing health callback answers 500.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["OpsServer"]


class OpsServer:
    """Serve ``registry`` at ``/metrics`` and ``health()`` at ``/health`` (503 when ``ok`` is false).

    ``port=0`` picks a free port; read it back from :attr:`port`.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Callable[[], dict[str, Any]],
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        registry_ref, health_ref = registry, health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    body, status, kind = generate_latest(registry_ref), 200, CONTENT_TYPE_LATEST
                elif self.path.startswith("/health"):
                    try:
                        report = health_ref()
                        status = 200 if report.get("ok") else 503
                    except Exception as exc:  # the endpoint must answer, whatever broke
                        report, status = {"ok": False, "error": type(exc).__name__}, 500
                    body, kind = json.dumps(report, default=str).encode(), "application/json"
                else:
                    body, status, kind = b"not found: try /metrics or /health\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep scrapes out of the logs
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
