"""Shared builders for OMS and risk tests: instruments, a settable clock, an OMS, commands and venue events."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jtrader.bus.messages import (
    AmendOrder,
    CancelOrder,
    ControlRequest,
    OrderRejected,
    RequestKind,
    SubmitOrder,
    VenueAck,
    VenueCancelled,
    VenueFill,
    VenueReject,
    VenueSnapshot,
)
from jtrader.domain import (
    Fill,
    Instrument,
    InstrumentId,
    InstrumentKind,
    InstrumentRegistry,
    LiquiditySide,
    OrderType,
    Price,
    Quantity,
    Quote,
    Side,
    TimeInForce,
    Venue,
)
from jtrader.oms import Journal, OmsConfig, OmsEngine, Publish, ToClient, ToVenue, replay
from jtrader.oms.journal import journal_files
from jtrader.risk import RiskEngine, RiskLimits

LINEAR = Instrument(
    InstrumentId("BTCUSDT", Venue.BINANCE_USDM),
    InstrumentKind.LINEAR_PERPETUAL,
    "BTC",
    "USDT",
    "USDT",
    Price("0.1"),
    Quantity("0.001"),
)
INVERSE = Instrument(
    InstrumentId("BTCUSD_PERP", Venue.BINANCE_COINM),
    InstrumentKind.INVERSE_PERPETUAL,
    "BTC",
    "USD",
    "BTC",
    Price("0.1"),
    Quantity("1"),
    contract_size=Decimal(100),
)
SPOT = Instrument(
    InstrumentId("ETHUSDT", Venue.BINANCE),
    InstrumentKind.SPOT,
    "ETH",
    "USDT",
    "USDT",
    Price("0.01"),
    Quantity("0.0001"),
    lot_size=Quantity("0.001"),
)
INSTRUMENTS = (LINEAR, INVERSE, SPOT)
ROUTES = {Venue.BINANCE_USDM: "gw-usdm", Venue.BINANCE_COINM: "gw-coinm", Venue.BINANCE: "gw-spot"}
# Default top of book: linear and inverse 59,999.0 / 60,001.0 (mid 60,000.0); spot 2,999.99 / 3,000.01.
BOOK = {LINEAR.id: (599_990, 600_010), INVERSE.id: (599_990, 600_010), SPOT.id: (299_999, 300_001)}
T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
CLIENT = b"strategy-host-1"


class Clock:
    """A settable clock in ns."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> int:
        self.now += ns
        return self.now


def registry() -> InstrumentRegistry:
    return InstrumentRegistry(INSTRUMENTS)


def make_oms(
    limits: RiskLimits | None = None,
    *,
    clock: Clock | None = None,
    journal: Journal | Path | None = None,
    config: OmsConfig | None = None,
    routes: dict[Venue, str] | None = None,
    quotes: bool = True,
    metrics_registry: Any = None,
) -> OmsEngine:
    """An OMS over the three test instruments, with quotes on every one unless ``quotes=False``."""
    instruments = registry()
    if isinstance(journal, Path):
        journal = Journal(journal, fsync="none")
    oms = OmsEngine(
        instruments,
        RiskEngine(limits or RiskLimits(), instruments),
        clock or Clock(),
        "acct-1",
        routes=ROUTES if routes is None else routes,
        journal=journal,
        config=config,
        metrics_registry=metrics_registry,
    )
    if quotes:
        for iid, (bid, ask) in BOOK.items():
            oms.on_market_data(quote(iid, bid, ask))
    return oms


def recover(path: Path, limits: RiskLimits | None = None, clock: Clock | None = None, **kwargs: Any) -> OmsEngine:
    """Rebuild an OMS from the journal at ``path`` (as a restarted process would)."""
    instruments = registry()
    return OmsEngine.from_journal(
        path,
        instruments,
        RiskEngine(limits or RiskLimits(), instruments),
        clock or Clock(),
        "acct-1",
        routes=ROUTES,
        fsync="none",
        **kwargs,
    )


def replay_everything(path: Path, limits: RiskLimits | None = None) -> OmsEngine:
    """An OMS rebuilt from every journal segment from the first, ignoring checkpoints (read-only)."""
    instruments = registry()
    engine = OmsEngine(instruments, RiskEngine(limits or RiskLimits(), instruments), Clock(), "acct-1")
    files = journal_files(path)
    assert 0 in files.segments, "the first segment was deleted: nothing to replay from"
    for number in sorted(files.segments):
        engine.recover(replay(files.segments[number]))
    return engine


def quote(iid: InstrumentId, bid: int, ask: int, ts: int = T0) -> Quote:
    return Quote(instrument_id=iid, bid_ticks=bid, bid_lots=10, ask_ticks=ask, ask_lots=10, ts_event=ts, ts_recv=ts)


def submit(
    cid: str,
    side: Side = Side.BUY,
    lots: int = 3,
    price: int | None = 600_000,
    instrument: Instrument = LINEAR,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    strategy: str = "s1",
    **kwargs: Any,
) -> SubmitOrder:
    if order_type is OrderType.MARKET:
        price = None
    return SubmitOrder(
        client_order_id=cid,
        instrument_id=instrument.id,
        side=side,
        order_type=order_type,
        quantity_lots=lots,
        price_ticks=price,
        time_in_force=tif,
        strategy_id=strategy,
        **kwargs,
    )


def make_fill(
    cid: str,
    lots: int,
    price: int = 600_000,
    trade_id: str | None = None,
    side: Side = Side.BUY,
    instrument: Instrument = LINEAR,
    fee: str = "0",
    ts: int = T0,
) -> Fill:
    return Fill(
        client_order_id=cid,
        venue_order_id=f"v-{cid}",
        trade_id=trade_id or f"t-{cid}-{lots}-{price}",
        instrument_id=instrument.id,
        side=side,
        price_ticks=price,
        size_lots=lots,
        liquidity=LiquiditySide.TAKER,
        fee=Decimal(fee),
        ts_event=ts,
        ts_recv=ts,
    )


def fill(cid: str, lots: int, price: int = 600_000, trade_id: str | None = None, **kwargs: Any) -> VenueFill:
    return VenueFill(fill=make_fill(cid, lots, price, trade_id, **kwargs))


def ack(cid: str) -> VenueAck:
    return VenueAck(client_order_id=cid, venue_order_id=f"v-{cid}")


def cancelled(cid: str) -> VenueCancelled:
    return VenueCancelled(client_order_id=cid, reason="user")


def venue_reject(cid: str, request: RequestKind = RequestKind.SUBMIT) -> VenueReject:
    from jtrader.bus.messages import RejectReason

    return VenueReject(client_order_id=cid, reason=RejectReason.VENUE_REJECT, message="no", request=request)


def to_venue(outputs: list[Any]) -> list[Any]:
    """The venue commands among ``outputs``."""
    return [o.command for o in outputs if type(o) is ToVenue]


def to_client(outputs: list[Any], sender: Any = None) -> list[Any]:
    """The reports among ``outputs`` (for ``sender`` if given)."""
    return [o.report for o in outputs if type(o) is ToClient and (sender is None or o.sender == sender)]


def published(outputs: list[Any], topic: str | None = None) -> list[Any]:
    return [o.msg for o in outputs if type(o) is Publish and (topic is None or o.topic == topic)]


def rejection(outputs: list[Any]) -> OrderRejected:
    """The single OrderRejected among ``outputs``."""
    found = [r for r in to_client(outputs) if type(r) is OrderRejected]
    assert len(found) == 1, f"expected one OrderRejected, got {outputs}"
    return found[0]


def place(oms: OmsEngine, cid: str, *, acked: bool = True, **kwargs: Any) -> list[Any]:
    """Submit (and ack) an order that must be accepted."""
    outputs = oms.on_command(submit(cid, **kwargs), CLIENT)
    assert to_venue(outputs), f"order {cid} was not accepted: {outputs}"
    if acked:
        outputs += oms.on_venue_event(ack(cid))
    return outputs


def history(oms: OmsEngine, clock: Clock, steps: range) -> None:
    """A deterministic mix of everything the journal records: orders, acks, fills, cancels, amends, funding..."""
    for iid, (bid, ask) in BOOK.items():  # a restarted OMS needs reference prices again
        oms.on_market_data(quote(iid, bid, ask, ts=clock.now))
    for i in steps:
        clock.advance(1_000_000)
        instrument = (LINEAR, INVERSE, SPOT)[i % 3]
        step = 10 if instrument is SPOT else 1
        mid = 300_000 if instrument is SPOT else 600_000
        side = Side.BUY if i % 2 else Side.SELL
        price = mid - 100 - i % 50 if side is Side.BUY else mid + 100 + i % 50
        cid = f"c{i}"
        if oms.risk.killed:
            oms.on_command(ControlRequest(command="reset"), b"ops")
        place(oms, cid, acked=i % 3 != 0, lots=3 * step, price=price, side=side, instrument=instrument)
        if i % 2 == 0:
            oms.on_venue_event(
                fill(cid, step, price=price, trade_id=f"t{i}", side=side, instrument=instrument, fee="0.01")
            )
        if i % 5 == 4:
            oms.on_command(CancelOrder(client_order_id=f"c{i - 1}"), CLIENT)
        if i % 7 == 6:
            oms.on_command(AmendOrder(client_order_id=f"c{i - 2}", quantity_lots=5 * step), CLIENT)
        if i % 11 == 10:
            oms.apply_funding(LINEAR.id, Decimal("0.0001"), 600_000)
        if i == 3:
            oms.reconcile(VenueSnapshot(open_orders=[], fills=[], balances={"USDT": Decimal(5000)}), LINEAR.id.venue)
        if i == 15:  # the latch is on across the checkpoint after step 15 in some tests
            oms.on_command(ControlRequest(command="kill", args={"reason": "drill"}), b"ops")
    if oms.journal is not None:
        oms.journal.flush()
