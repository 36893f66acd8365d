"""The demo's paper-trading stage: the desk for a bounded time, then what it did, checked against the venue."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jtrader.config import Settings
from jtrader.live.config import parse_run_config
from jtrader.live.ctl import send_control
from jtrader.live.supervisor import Supervisor
from jtrader.live.venues import build_registry, read_venue_record
from jtrader.oms import OmsEngine
from jtrader.risk import RiskEngine

__all__ = ["PAPER_SECONDS", "run_paper_stage"]

PAPER_SECONDS = 20.0


def demo_desk(run_dir: Path) -> dict[str, object]:
    """The paper desk of the demo: BTCUSDT.sim replaying the USD-M capture, one quoting strategy."""
    return {
        "run": {"name": "demo", "run_dir": str(run_dir), "transport": "ipc"},
        "venue": {"capture": "binance/usdm/btcusdt_20240808.gz", "mirror": "BTCUSDT.binance_usdm", "speed": 2.0},
        "oms": {"metrics_port": 0, "snapshot_interval_s": 5.0},
        "risk": {
            "price_band_bps": 200,
            "daily_loss_limit": "5000",
            "default_strategy": {"max_position": {"BTCUSDT.sim": "0.5"}},
        },
        "strategies": [
            {"id": "mm", "instruments": ["BTCUSDT.sim"], "params": {"quote_lots": 2, "max_position_lots": 40}}
        ],
    }


def run_paper_stage(settings: Settings, console: Console, seconds: float = PAPER_SECONDS) -> bool:
    """Paper-trade for ``seconds``, stop gracefully, print orders, fills, positions and PnL; True if all agree."""
    run_dir = settings.var_path / "run" / "demo-paper"
    if run_dir.exists():  # each demo is a fresh desk: no journal segments, checkpoints or record of the last one
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = demo_desk(run_dir)
    config_path = run_dir / "desk.json"
    config_path.write_text(json.dumps(data))
    config = parse_run_config(data)
    supervisor = Supervisor(config, config_path, settings)
    console.print(f"paper trading BTCUSDT.sim for {seconds:.0f}s (venue replays the USD-M capture at 2x) ...")
    supervisor.start()
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    time.sleep(seconds / 2)
    status = send_control(config, settings, "status")
    console.print(f"mid-run `jtrader ctl status`: {status.payload['orders']} orders, {status.payload['fills']} fills")
    time.sleep(seconds / 2)
    supervisor.stop()
    runner.join(120)

    registry = build_registry(config)
    oms = OmsEngine.from_journal(
        run_dir / "oms.journal", registry, RiskEngine(config.risk, registry), time.time_ns, config.oms.account_id
    )
    state = oms.snapshot()
    venue = read_venue_record(run_dir)
    statuses = Counter(o.status.value for o in state.orders)
    console.print(f"orders: {len(state.orders)} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
    fills = Table("time", "order", "side", "price", "size", "liquidity", "fee", title="fills (last 10)")
    for fill in state.fills[-10:]:
        instrument = registry.get(fill.instrument_id)
        fills.add_row(
            time.strftime("%H:%M:%S", time.gmtime(fill.ts_event / 1e9)),
            fill.client_order_id,
            fill.side.value,
            str(instrument.ticks_to_price(fill.price_ticks)),
            str(instrument.lots_to_size(fill.size_lots)),
            fill.liquidity.value,
            f"{fill.fee:.6f}",
        )
    console.print(fills)
    positions = Table(
        "instrument", "net", "avg entry", "realised", "unrealised (at last fill)", "fees", title="positions and PnL"
    )
    for position in state.positions:
        instrument = registry.get(position.instrument_id)
        last = [f.price_ticks for f in state.fills if f.instrument_id == position.instrument_id][-1:]
        unrealised = position.unrealised_pnl(instrument, last[0]) if last else Decimal(0)
        net = ("-" if position.net_lots < 0 else "") + str(instrument.lots_to_size(abs(position.net_lots)))
        positions.add_row(
            str(position.instrument_id),
            net,
            f"{position.avg_entry:.2f}",
            f"{position.realised_pnl:.4f}",
            f"{unrealised:.4f}",
            f"{position.fees:.4f}",
        )
    console.print(positions)
    same_fills = sorted(f.trade_id for f in state.fills) == sorted(f.trade_id for f in venue.fills)
    same_positions = {str(p.instrument_id): p.net_lots for p in state.positions if p.net_lots} == {
        k: v for k, v in venue.net_positions().items() if v
    }
    console.print(
        f"OMS vs venue record: fills {'equal' if same_fills else 'DIFFER'}, "
        f"positions {'equal' if same_positions else 'DIFFER'}; journal in {run_dir}"
    )
    return same_fills and same_positions and len(state.orders) > 0
