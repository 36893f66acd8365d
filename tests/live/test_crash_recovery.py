"""Crash test: the OMS process is SIGKILLed at random points while a strategy trades on paper.

The supervisor restarts it each time; it recovers from its journal and
reconciles with the simulated venue. Afterwards the OMS's orders, fills and
positions must equal the venue's own record: 0 lost, 0 duplicated.
``JTRADER_CRASH_KILLS`` raises the number of kills for a soak run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from jtrader.config import load_settings
from jtrader.domain import OrderStatus, Venue
from jtrader.live.config import parse_run_config
from jtrader.live.supervisor import Supervisor
from jtrader.live.venues import build_registry, read_venue_record
from jtrader.oms import OmsEngine
from jtrader.risk import RiskEngine

KILLS = int(os.environ.get("JTRADER_CRASH_KILLS", "20"))


def desk_config(run_dir: Path) -> dict:
    return {
        "run": {"name": "crash", "run_dir": str(run_dir), "keys_dir": str(run_dir / "keys"), "transport": "ipc"},
        "venue": {"capture": "binance/usdm/btcusdt_20240808.gz", "mirror": "BTCUSDT.binance_usdm", "speed": 20.0},
        "oms": {"metrics_port": 0, "snapshot_interval_s": 0, "heartbeat_timeout_s": 2.0},
        "risk": {"no_reference": "allow", "self_trade_prevention": False},
        "strategies": [
            {
                "id": "mm",
                "instruments": ["BTCUSDT.sim"],
                "params": {
                    "quote_lots": 2,
                    "max_position_lots": 1000,
                    "min_requote_ns": 20_000_000,
                    "post_only": False,
                },
            }
        ],
    }


def _wait_for_new_pid(supervisor: Supervisor, old: int | None, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = supervisor.pid("oms")
        pid_file = supervisor.run_dir / "oms.pid"
        if pid and pid != old and pid_file.exists() and pid_file.read_text() == str(pid):
            return pid
        time.sleep(0.05)
    raise AssertionError("the supervisor did not bring the OMS back")


@pytest.mark.slow
def test_oms_killed_repeatedly_loses_and_duplicates_nothing(tmp_path, sample_data_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("JTRADER_") and not k.startswith("JTRADER_TEST_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("JTRADER_DATA_PATH", str(sample_data_dir))
    monkeypatch.setenv("JTRADER_LOG_LEVEL", "WARNING")
    run_dir = tmp_path / "run"
    config = parse_run_config(desk_config(run_dir))
    config_path = tmp_path / "desk.json"
    config_path.write_text(json.dumps(desk_config(run_dir)))
    settings = load_settings(env={}, toml_path=None, root=tmp_path, data_path=sample_data_dir)

    supervisor = Supervisor(config, config_path, settings, stop_timeout=20)
    supervisor.start()
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    rng = random.Random(20240808)
    try:
        pid = _wait_for_new_pid(supervisor, None)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))  # let orders, fills and cancels flow
            os.kill(pid, signal.SIGKILL)
            pid = _wait_for_new_pid(supervisor, pid)
        time.sleep(2.0)  # trade a little after the last restart
    finally:
        supervisor.stop()
        runner.join(120)
    assert supervisor.children["oms"].restarts >= KILLS

    venue = read_venue_record(run_dir)
    registry = build_registry(config)
    oms = OmsEngine.from_journal(
        run_dir / "oms.journal", registry, RiskEngine(config.risk, registry), time.time_ns, config.oms.account_id
    )
    state = oms.snapshot()

    # fills: every venue fill once in the OMS, nothing the venue did not do
    oms_fill_ids = [f.trade_id for f in state.fills]
    assert len(oms_fill_ids) == len(set(oms_fill_ids)), "duplicated fills"
    assert Counter(oms_fill_ids) == Counter(f.trade_id for f in venue.fills), "lost or invented fills"
    assert len(venue.fills) > 0, "the strategy never traded: the test proves nothing"
    # positions
    oms_positions = {str(p.instrument_id): p.net_lots for p in state.positions if p.net_lots}
    assert oms_positions == {k: v for k, v in venue.net_positions().items() if v}
    # orders: every order the venue saw has the same id, fill and state in the OMS; the OMS's others never
    # reached the venue and were closed as rejected by reconciliation
    oms_orders = {o.client_order_id: o for o in state.orders}
    for order in venue.orders:
        mine = oms_orders.get(order.client_order_id)
        assert mine is not None, f"venue order {order.client_order_id} lost by the OMS"
        assert (mine.filled_lots, mine.status) == (order.filled_lots, order.status), order.client_order_id
    venue_ids = {o.client_order_id for o in venue.orders}
    never_sent = [o for o in state.orders if o.client_order_id not in venue_ids]
    assert all(o.status is OrderStatus.REJECTED for o in never_sent)
    assert not [o for o in state.orders if o.is_open], "orders left open after a graceful stop"
    # balances: the OMS's expected cash (its baseline moved by every fill and fee) equals the venue's to the digit
    expected = oms.expected_balances(Venue.SIM)
    at_venue = venue.balances[config.oms.account_id]
    assert expected, "the OMS never baselined the venue's balances"
    for asset, amount in expected.items():
        assert at_venue.get(asset) == amount, f"{asset}: OMS expects {amount}, the venue holds {at_venue.get(asset)}"
