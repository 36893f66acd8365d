import msgspec

from jtrader.bus.messages import ExecutionReport, OrderRejected, RejectReason
from jtrader.domain import Fill, InstrumentId, LiquiditySide, OrderStatus, Side, Venue
from jtrader.strategies.base import OpenOrder, StrategyState

BTC = InstrumentId("BTCUSDT", Venue.SIM)


def report(status, filled, fill_id=None, lots=0):
    fill = None
    if fill_id:
        fill = Fill(
            client_order_id="s-1",
            venue_order_id="v1",
            trade_id=fill_id,
            instrument_id=BTC,
            side=Side.BUY,
            price_ticks=100,
            size_lots=lots,
            liquidity=LiquiditySide.MAKER,
            ts_event=1,
            ts_recv=1,
        )
    return ExecutionReport(
        client_order_id="s-1",
        instrument_id=BTC,
        status=status,
        filled_lots=filled,
        leaves_lots=5 - filled,
        last_fill=fill,
    )


def test_ids_are_deterministic_per_strategy():
    state = StrategyState("mm")
    assert [state.new_client_order_id() for _ in range(3)] == ["mm-1", "mm-2", "mm-3"]


def test_duplicate_fill_reports_move_the_position_once_and_filled_orders_close():
    state = StrategyState("s")
    state.on_submitted(OpenOrder("s-1", BTC, Side.BUY, 5, 100))
    seen = []
    state.on_report(report(OrderStatus.PARTIALLY_FILLED, 2, "t1", 2), seen.append)
    state.on_report(report(OrderStatus.PARTIALLY_FILLED, 2, "t1", 2), seen.append)
    assert state.position(BTC) == 2 and len(seen) == 1
    assert state.open_orders(BTC)[0].filled_lots == 2
    state.on_report(report(OrderStatus.FILLED, 5, "t2", 3), seen.append)
    assert state.position(BTC) == 5 and state.open_orders() == []


def test_rejected_new_order_is_forgotten_but_refused_cancel_keeps_the_order():
    state = StrategyState("s")
    state.on_submitted(OpenOrder("s-1", BTC, Side.BUY, 5, 100))
    state.on_rejected(OrderRejected(client_order_id="s-1", reason=RejectReason.PRICE_BAND, message="x"))
    assert state.open_orders() == []
    state.on_submitted(OpenOrder("s-2", BTC, Side.BUY, 5, 100, status=OrderStatus.ACKED, pending_cancel=True))
    state.on_rejected(OrderRejected(client_order_id="s-2", reason=RejectReason.CANCEL_RATE, message="x"))
    assert state.open_orders()[0].pending_cancel is False


def test_open_order_allocates_ids_and_a_second_cancel_is_not_sent():
    state = StrategyState("s")
    first = state.open_order(BTC, Side.BUY, 1, 100)
    assert first == "s-1" and state.open_orders()[0].price_ticks == 100
    assert state.begin_cancel(first) is not None
    assert state.begin_cancel(first) is None
    assert state.begin_cancel("s-99") is None


def test_self_trade_fills_sharing_a_trade_id_both_move_the_position():
    state = StrategyState("s")
    state.on_submitted(OpenOrder("s-1", BTC, Side.BUY, 2, 100))
    state.on_submitted(OpenOrder("s-2", BTC, Side.SELL, 2, 100))
    buy = report(OrderStatus.FILLED, 2, "t7", 2)
    sell_fill = msgspec.structs.replace(buy.last_fill, client_order_id="s-2", side=Side.SELL)
    sell = msgspec.structs.replace(buy, client_order_id="s-2", last_fill=sell_fill)
    seen = []
    state.on_report(buy, seen.append)
    state.on_report(sell, seen.append)
    assert len(seen) == 2 and state.position(BTC) == 0 and state.open_orders() == []
