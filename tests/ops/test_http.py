import json
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from jtrader.ops.http import OpsServer


def _get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_metrics_and_health_are_served_on_loopback():
    registry = CollectorRegistry()
    Counter("jtrader_test_ticks", "ticks", registry=registry).inc(3)
    state = {"ok": True, "open_orders": 2}
    server = OpsServer(registry, lambda: state)
    try:
        assert server._server.server_address[0] == "127.0.0.1"
        status, body = _get(server.port, "/metrics")
        assert status == 200 and b"jtrader_test_ticks_total 3.0" in body
        status, body = _get(server.port, "/health")
        assert status == 200 and json.loads(body)["open_orders"] == 2
        state["ok"] = False
        assert _get(server.port, "/health")[0] == 503
    finally:
        server.close()


def test_a_failing_health_check_answers_500_and_the_server_keeps_serving():
    def broken():
        raise RuntimeError("boom")

    server = OpsServer(CollectorRegistry(), broken)
    try:
        status, body = _get(server.port, "/health")
        assert status == 500 and json.loads(body) == {"ok": False, "error": "RuntimeError"}
        assert _get(server.port, "/metrics")[0] == 200
    finally:
        server.close()
