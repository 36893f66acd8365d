"""``jtrader run --mode paper`` end to end: SIGTERM stops it cleanly, a restart loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jtrader.live.config import parse_run_config
from jtrader.live.venues import build_registry, read_venue_record
from jtrader.oms import OmsEngine
from jtrader.risk import RiskEngine
from tests.live.test_crash_recovery import desk_config


def _run_desk(config_path: Path, cwd: Path, env: dict[str, str], seconds: float) -> int:
    desk = subprocess.Popen(
        [sys.executable, "-m", "jtrader.cli", "run", "--config", str(config_path), "--mode", "paper"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = cwd / "run" / "strategies.pid"
    deadline = time.monotonic() + 90
    while not pid_file.exists() and time.monotonic() < deadline and desk.poll() is None:
        time.sleep(0.1)
    time.sleep(seconds)
    desk.send_signal(signal.SIGTERM)
    return desk.wait(90)


@pytest.mark.slow
def test_desk_stops_on_sigterm_and_restarts_without_loss(tmp_path, sample_data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JTRADER_") or k.startswith("JTRADER_TEST_")}
    env |= {"JTRADER_DATA_PATH": str(sample_data_dir), "JTRADER_LOG_LEVEL": "WARNING"}
    run_dir = tmp_path / "run"
    data = desk_config(run_dir)
    config_path = tmp_path / "desk.json"
    config_path.write_text(json.dumps(data))
    config = parse_run_config(data)

    assert _run_desk(config_path, tmp_path, env, 6.0) == 0
    first = read_venue_record(run_dir)
    shutil.copy(run_dir / "venue-record.json", tmp_path / "session-1.json")
    assert _run_desk(config_path, tmp_path, env, 6.0) == 0
    second = read_venue_record(run_dir)

    registry = build_registry(config)
    state = OmsEngine.from_journal(
        run_dir / "oms.journal", registry, RiskEngine(config.risk, registry), time.time_ns, config.oms.account_id
    ).snapshot()
    venue_fills = [f.trade_id for f in first.fills] + [f.trade_id for f in second.fills]
    assert first.fills and second.fills, "both sessions must trade for the test to mean anything"
    assert sorted(f.trade_id for f in state.fills) == sorted(venue_fills)  # both sessions, nothing twice
    net = sum(p.net_lots for p in state.positions)
    assert net == sum(first.net_positions().values()) + sum(second.net_positions().values())
    assert not [o for o in state.orders if o.is_open], "SIGTERM cancels open orders (on_shutdown = cancel)"
