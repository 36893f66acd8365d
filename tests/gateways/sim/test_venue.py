"""The pure simulated venue: order types, fees, idempotent ids, refusals, the venue's record, public data."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from jtrader.bus.messages import (
    Heartbeat,
    RejectReason,
    RequestKind,
    VenueAck,
    VenueAmended,
    VenueCancelled,
    VenueFill,
    VenueQuery,
    VenueReject,
    VenueSnapshot,
)
from jtrader.domain import (
    BookDelta,
    InstrumentId,
    LiquiditySide,
    OrderStatus,
    OrderType,
    Quantity,
    Quote,
    TimeInForce,
    Trade,
    UnknownInstrument,
    Venue,
)
from jtrader.gateways.sim import read_record, write_record
from tests.gateways.sim.builders import BTC, BUY, SELL, Clock, amend, cancel, kinds, make_venue, perp, spot, submit

pytestmark = pytest.mark.timeout(60)

A, B = "acct-a", "acct-b"


def fills_of(events: list) -> list:
    return [e.fill for e in events if isinstance(e, VenueFill)]


# -- order types, fills and fees ------------------------------------------------------------


def test_limit_order_rests_and_is_acked_with_a_deterministic_venue_order_id() -> None:
    venue = make_venue()
    out = venue.handle(submit("c1", BUY, 5, 600_000), A)
    assert out.to(A) == [VenueAck(ts=1_000, client_order_id="c1", venue_order_id="1")]
    venue.handle(submit("p", BUY, 1, 599_999, tif=TimeInForce.FOK), A)  # refused: uses up no id
    assert venue.handle(submit("c2", BUY, 5, 599_999), A).to(A)[0].venue_order_id == "2"
    assert venue.engine(BTC).best_bid() == (600_000, 5)
    assert venue.order(A, "c1").status is OrderStatus.ACKED


def test_market_order_takes_replayed_liquidity_and_pays_the_exact_taker_fee() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_000, 2), (600_001, 10)])
    events = venue.handle(submit("m1", BUY, 3), A).to(A)
    assert kinds(events) == ["VenueAck", "VenueFill", "VenueFill"]
    first, second = fills_of(events)
    assert (first.price_ticks, first.size_lots, first.liquidity) == (600_000, 2, LiquiditySide.TAKER)
    assert (second.price_ticks, second.size_lots) == (600_001, 1)
    # 0.002 BTC x 60000.0 = 120 USDT x 0.0005; 0.001 x 60000.1 = 60.0001 x 0.0005
    assert first.fee == Decimal("0.06") and second.fee == Decimal("0.03000005")
    assert first.fee_currency == "USDT" and first.account_id == A
    assert venue.order(A, "m1").status is OrderStatus.FILLED


def test_resting_order_filled_by_another_account_gets_the_maker_fee_and_each_account_its_own_fill() -> None:
    venue = make_venue()
    venue.handle(submit("s1", SELL, 4, 600_000), A)
    out = venue.handle(submit("b1", BUY, 3, 600_005), B)
    assert kinds(out.to(B)) == ["VenueAck", "VenueFill"]
    assert kinds(out.to(A)) == ["VenueFill"]
    maker, taker = out.to(A)[0].fill, out.to(B)[1].fill
    assert (maker.liquidity, taker.liquidity) == (LiquiditySide.MAKER, LiquiditySide.TAKER)
    assert maker.price_ticks == taker.price_ticks == 600_000  # the maker's price
    assert maker.trade_id == taker.trade_id == "BTCUSDT-1"
    assert maker.fee == Decimal("0.036") and taker.fee == Decimal("0.09")  # 180 USDT x 0.0002 / 0.0005
    assert venue.order(A, "s1").status is OrderStatus.PARTIALLY_FILLED
    assert venue.order(A, "s1").filled_lots == 3


def test_rebate_is_a_negative_fee() -> None:
    venue = make_venue(perp(maker="-0.0001"))
    venue.handle(submit("s1", SELL, 1, 600_000), A)
    out = venue.handle(submit("b1", BUY, 1), B)
    assert out.to(A)[0].fill.fee == Decimal("-0.006")


def test_ioc_remainder_expires_after_its_fills() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_000, 2)])
    events = venue.handle(submit("i1", BUY, 5, 600_000, tif=TimeInForce.IOC), A).to(A)
    assert kinds(events) == ["VenueAck", "VenueFill", "VenueExpired"]
    assert venue.order(A, "i1").status is OrderStatus.EXPIRED
    assert venue.order(A, "i1").filled_lots == 2


def test_market_order_remainder_expires() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_000, 2)])
    assert kinds(venue.handle(submit("m1", BUY, 5), A).to(A)) == ["VenueAck", "VenueFill", "VenueExpired"]


def test_fok_that_cannot_fill_whole_is_refused_and_one_that_can_fills_whole() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_000, 2), (600_001, 2)])
    refused = venue.handle(submit("f1", BUY, 5, 600_001, tif=TimeInForce.FOK), A).to(A)
    assert [(e.reason, e.request) for e in refused] == [(RejectReason.FOK_NOT_FILLABLE, RequestKind.SUBMIT)]
    assert venue.order(A, "f1") is None
    filled = venue.handle(submit("f2", BUY, 4, 600_001, tif=TimeInForce.FOK), A).to(A)
    assert kinds(filled) == ["VenueAck", "VenueFill", "VenueFill"]
    assert venue.order(A, "f2").status is OrderStatus.FILLED


def test_post_only_that_would_take_is_refused_and_one_that_rests_is_acked() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [(599_999, 1)], [(600_000, 2)])
    refused = venue.handle(submit("p1", BUY, 1, 600_000, tif=TimeInForce.POST_ONLY), A).to(A)
    assert isinstance(refused[0], VenueReject)
    assert (refused[0].reason, refused[0].request) == (RejectReason.POST_ONLY_WOULD_TAKE, RequestKind.SUBMIT)
    assert kinds(venue.handle(submit("p2", BUY, 1, 599_999, tif=TimeInForce.POST_ONLY), A).to(A)) == ["VenueAck"]


def test_market_order_on_an_empty_side_is_refused_no_liquidity() -> None:
    venue = make_venue()
    events = venue.handle(submit("m1", SELL, 1), A).to(A)
    assert [(e.reason, e.request) for e in events] == [(RejectReason.NO_LIQUIDITY, RequestKind.SUBMIT)]


def test_stop_market_waits_for_a_trade_at_its_trigger_then_fills() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_010, 5)])
    acked = venue.handle(submit("st", BUY, 2, order_type=OrderType.STOP_MARKET, trigger=600_005), A).to(A)
    assert kinds(acked) == ["VenueAck"]
    venue.handle(submit("s1", SELL, 1, 600_005), B)
    out = venue.handle(submit("b1", BUY, 1, 600_005), B)  # prints at the trigger
    fills = fills_of(out.to(A))
    assert [(f.price_ticks, f.size_lots, f.liquidity) for f in fills] == [(600_010, 2, LiquiditySide.TAKER)]
    assert venue.order(A, "st").status is OrderStatus.FILLED


def test_stop_limit_triggered_by_a_replayed_trade_rests_at_its_limit() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [(599_990, 5)], [(600_010, 5)])
    venue.handle(submit("sl", SELL, 2, 599_995, order_type=OrderType.STOP_LIMIT, trigger=599_990), A)
    venue.replay_trade(BTC, 599_990, 1, SELL, "77")
    state = venue.order(A, "sl")
    assert state.status is OrderStatus.ACKED and venue.engine(BTC).best_ask() == (599_995, 2)


# -- idempotent client order ids ------------------------------------------------------------------


def test_resubmitted_known_id_creates_no_second_order_and_resends_ack_and_fills() -> None:
    venue = make_venue()
    venue.handle(submit("s1", SELL, 4, 600_000), A)
    venue.handle(submit("b1", BUY, 1, 600_000), B)
    again = venue.handle(submit("s1", SELL, 4, 600_000), A).to(A)
    assert kinds(again) == ["VenueAck", "VenueFill"]
    assert again[0].venue_order_id == "1"
    assert again[1].fill == venue.snapshot(A).fills[0]
    assert venue.engine(BTC).best_ask() == (600_000, 3)  # still one order of 3 left
    assert len(venue.record().orders) == 2
    assert venue.counters["duplicate_submit"] == 1


def test_resubmit_with_other_parameters_changes_nothing_and_closed_order_resends_its_end() -> None:
    venue = make_venue()
    venue.handle(submit("c1", BUY, 2, 599_000), A)
    venue.handle(amend("c1", 1), A)
    venue.handle(cancel("c1"), A)
    again = venue.handle(submit("c1", SELL, 9, 700_000), A).to(A)
    assert kinds(again) == ["VenueAck", "VenueAmended", "VenueCancelled"]
    assert again[1].quantity_lots == 1
    assert venue.engine(BTC).depth() == ([], [])


def test_client_order_ids_are_per_account() -> None:
    venue = make_venue()
    assert kinds(venue.handle(submit("c1", BUY, 1, 599_000), A).to(A)) == ["VenueAck"]
    assert kinds(venue.handle(submit("c1", BUY, 1, 599_000), B).to(B)) == ["VenueAck"]
    assert venue.engine(BTC).best_bid() == (599_000, 2)


def test_id_of_a_refused_submit_is_not_remembered() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_000, 1)])
    assert kinds(venue.handle(submit("p1", BUY, 1, 600_000, tif=TimeInForce.POST_ONLY), A).to(A)) == ["VenueReject"]
    venue.set_levels(BTC, [], [(600_000, 0), (600_005, 1)])
    assert kinds(venue.handle(submit("p1", BUY, 1, 600_000, tif=TimeInForce.POST_ONLY), A).to(A)) == ["VenueAck"]


# -- refusals --------------------------------------------------------------------------------------


def test_cancel_of_unknown_or_another_accounts_order_is_refused_unknown_order() -> None:
    venue = make_venue()
    venue.handle(submit("c1", BUY, 1, 599_000), A)
    for account, command in ((A, cancel("nope")), (B, cancel("c1")), (A, cancel("c1", InstrumentId("X", Venue.SIM)))):
        (event,) = venue.handle(command, account).to(account)
        assert isinstance(event, VenueReject)
        assert (event.reason, event.request) == (RejectReason.UNKNOWN_ORDER, RequestKind.CANCEL)
    assert venue.engine(BTC).best_bid() == (599_000, 1)


def test_cancel_of_filled_or_cancelled_order_is_refused_order_not_open() -> None:
    venue = make_venue()
    venue.handle(submit("c1", BUY, 1, 599_000), A)
    assert venue.handle(cancel("c1"), A).to(A) == [VenueCancelled(ts=1_000, client_order_id="c1", reason="requested")]
    (event,) = venue.handle(cancel("c1"), A).to(A)
    assert (event.reason, event.request) == (RejectReason.ORDER_NOT_OPEN, RequestKind.CANCEL)
    venue.handle(submit("s1", SELL, 1, 600_000), A)
    venue.handle(submit("b1", BUY, 1), B)
    (event,) = venue.handle(cancel("s1"), A).to(A)
    assert (event.reason, event.request) == (RejectReason.ORDER_NOT_OPEN, RequestKind.CANCEL)


def test_amend_refusals_name_the_amend_request() -> None:
    venue = make_venue()
    venue.handle(submit("s1", SELL, 4, 600_000), A)
    venue.handle(submit("b1", BUY, 2), B)
    cases = [
        (amend("nope", 1), RejectReason.UNKNOWN_ORDER),
        (amend("s1", 2), RejectReason.INVALID_ORDER),  # not above the 2 lots filled
        (amend("s1", 3, 0), RejectReason.INVALID_ORDER),
    ]
    for command, reason in cases:
        (event,) = venue.handle(command, A).to(A)
        assert (event.reason, event.request) == (reason, RequestKind.AMEND), event.message
    venue.handle(submit("b2", BUY, 2), B)
    (event,) = venue.handle(amend("s1", 3), A).to(A)
    assert (event.reason, event.request) == (RejectReason.ORDER_NOT_OPEN, RequestKind.AMEND)


def test_amend_of_a_post_only_order_to_a_crossing_price_is_refused_and_leaves_it() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [], [(600_000, 1)])
    venue.handle(submit("p1", BUY, 1, 599_990, tif=TimeInForce.POST_ONLY), A)
    (event,) = venue.handle(amend("p1", 1, 600_000), A).to(A)
    assert (event.reason, event.request) == (RejectReason.POST_ONLY_WOULD_TAKE, RequestKind.AMEND)
    assert venue.order(A, "p1").price_ticks == 599_990


def test_amend_down_keeps_priority_and_amend_through_the_book_fills() -> None:
    venue = make_venue()
    venue.handle(submit("b1", BUY, 5, 599_000), A)
    venue.handle(submit("b2", BUY, 5, 599_000), B)
    assert venue.handle(amend("b1", 3), A).to(A) == [
        VenueAmended(ts=1_000, client_order_id="b1", quantity_lots=3, price_ticks=599_000)
    ]
    out = venue.handle(submit("s1", SELL, 3, 599_000), B)
    assert [f.size_lots for f in fills_of(out.to(A))] == [3]  # b1 kept its place ahead of b2
    venue.set_levels(BTC, [], [(600_000, 4)])
    events = venue.handle(amend("b2", 5, 600_000), B).to(B)
    assert kinds(events) == ["VenueAmended", "VenueFill"]


def test_unknown_instrument_and_bad_quantities_are_refused_as_such() -> None:
    venue = make_venue(perp(lot_size=Quantity("0.002"), min_quantity=Quantity("0.002"), min_notional=Decimal(100)))
    cases = [
        (submit("x", BUY, 2, 1, instrument=InstrumentId("DOGE", Venue.SIM)), RejectReason.UNKNOWN_INSTRUMENT),
        (submit("x", BUY, 3, 600_000), RejectReason.INVALID_ORDER),  # off the 0.002 order step
        (submit("x", BUY, 0, 600_000), RejectReason.INVALID_ORDER),
        (submit("x", BUY, 2, 100_000), RejectReason.INVALID_ORDER),  # 0.002 x 10000 = 20 USDT < 100
        (submit("x", BUY, 2, order_type=OrderType.LIMIT), RejectReason.INVALID_ORDER),  # no price
    ]
    for command, reason in cases:
        (event,) = venue.handle(command, A).to(A)
        assert (event.reason, event.request) == (reason, RequestKind.SUBMIT), event.message
        assert event.message
    assert kinds(venue.handle(submit("ok", BUY, 2, 600_000), A).to(A)) == ["VenueAck"]


def test_replay_on_an_unlisted_instrument_raises_unknown_instrument() -> None:
    with pytest.raises(UnknownInstrument, match=r"BTCUSDT\.sim"):
        make_venue().set_levels(InstrumentId("ETHUSDT", Venue.SIM), [(1, 1)], [])


# -- the record and the snapshot ---------------------------------------------------------------------


def test_query_answers_open_orders_fills_since_and_balances_from_the_record() -> None:
    clock = Clock(1_000)
    venue = make_venue(clock=clock, initial_balances={"USDT": Decimal(1000)})
    venue.handle(submit("s1", SELL, 4, 600_000), A)
    clock.tick()
    venue.handle(submit("b1", BUY, 1), B)  # t=2000
    clock.tick()
    venue.handle(submit("b2", BUY, 1), B)  # t=3000
    venue.handle(submit("s2", SELL, 1, 610_000), A)
    (snapshot,) = venue.handle(VenueQuery(fills_since_ns=2_500), A).to(A)
    assert isinstance(snapshot, VenueSnapshot)
    assert [(o.client_order_id, o.filled_lots, o.status) for o in snapshot.open_orders] == [
        ("s1", 2, OrderStatus.PARTIALLY_FILLED),
        ("s2", 0, OrderStatus.ACKED),
    ]
    assert [f.ts_event for f in snapshot.fills] == [3_000]
    assert snapshot.balances["BTCUSDT.sim"] == Decimal("-0.002")
    assert snapshot.balances["USDT"] == Decimal(1000) - 2 * Decimal("0.012")  # two maker fees, nothing realised
    record = venue.record()
    assert [f for f in record.fills if f.account_id == A] == venue.snapshot(A).fills
    assert record.net_positions(A) == {"BTCUSDT.sim": -2} and record.net_positions() == {"BTCUSDT.sim": 0}
    assert [(o.client_order_id, o.status) for o in record.orders] == [
        ("s1", OrderStatus.PARTIALLY_FILLED),
        ("b1", OrderStatus.FILLED),
        ("b2", OrderStatus.FILLED),
        ("s2", OrderStatus.ACKED),
    ]


def test_spot_fills_move_base_and_quote_balances_and_perp_fills_realise_pnl() -> None:
    eth = spot()
    venue = make_venue(perp(maker="0", taker="0"), eth)
    venue.handle(submit("s1", SELL, 10_000, 300_000, instrument=eth.id), B)  # 1 ETH at 3000.00
    venue.handle(submit("b1", BUY, 10_000, instrument=eth.id), A)
    balances = venue.snapshot(A).balances
    assert balances["ETH"] == Decimal(1) and balances["USDT"] == Decimal(-3000) - Decimal(3)  # 0.1% fee
    venue.handle(submit("s2", SELL, 1, 600_000), B)
    venue.handle(submit("b2", BUY, 1), A)
    venue.handle(submit("s3", BUY, 1, 610_000), B)
    venue.handle(submit("b3", SELL, 1), A)  # long 0.001 from 60000 out at 61000: +1 USDT
    assert venue.snapshot(A).balances["USDT"] == Decimal(-3003) + Decimal(1)
    assert venue.snapshot(A).balances["BTCUSDT.sim"] == 0


def test_record_round_trips_through_its_json_file(tmp_path) -> None:
    venue = make_venue()
    venue.handle(submit("s1", SELL, 4, 600_000), A)
    venue.handle(submit("b1", BUY, 1), B)
    write_record(venue.record(), tmp_path / "rec.json")
    assert read_record(tmp_path / "rec.json") == venue.record()


def test_heartbeat_and_query_of_an_unknown_account_change_nothing() -> None:
    venue = make_venue()
    assert not venue.handle(Heartbeat(sender="x"), A)
    (snapshot,) = venue.handle(VenueQuery(), "nobody").to("nobody")
    assert snapshot.open_orders == [] and snapshot.fills == [] and venue.record().orders == []


# -- public market data -------------------------------------------------------------------------------


def test_public_data_is_a_trade_per_match_a_quote_per_top_change_and_sequenced_deltas() -> None:
    venue = make_venue(book_depth=2)
    first = venue.set_levels(BTC, [(599_990, 3), (599_980, 1)], [(600_000, 2), (600_001, 1), (600_002, 7)])
    assert [type(m) for m in first.public] == [BookDelta, Quote]
    delta, quote = first.public
    assert (delta.bids, delta.asks) == ([(599_990, 3), (599_980, 1)], [(600_000, 2), (600_001, 1)])  # top 2 only
    assert (quote.bid_ticks, quote.bid_lots, quote.ask_ticks, quote.ask_lots) == (599_990, 3, 600_000, 2)
    out = venue.handle(submit("m1", BUY, 2), A)
    trade, delta2, quote2 = out.public
    assert isinstance(trade, Trade) and (trade.price_ticks, trade.size_lots, trade.aggressor) == (600_000, 2, BUY)
    assert delta2.asks == [(600_000, 0), (600_002, 7)]  # 600000 emptied, 600002 entered the top 2
    assert (delta2.prev_update_id, delta2.last_update_id) == (delta.last_update_id, delta.last_update_id + 1)
    assert (quote2.ask_ticks, quote2.ask_lots) == (600_001, 1)
    assert not venue.handle(submit("far", BUY, 1, 500_000), A).public  # below the top 2: nothing to publish


# -- replayed liquidity (the rule is pinned on the real capture in test_replay.py) ---------------------


def test_replayed_trade_fills_our_order_only_after_the_anonymous_size_ahead_and_the_book_stays_recorded() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [(600_000, 5)], [(600_001, 5)])
    venue.handle(submit("b1", BUY, 3, 600_000), A)  # behind 5 anonymous lots
    first = venue.replay_trade(BTC, 600_000, 4, SELL, "t1")
    assert first.to(A) == [] and venue.engine(BTC).queue_position(1) == 1
    second = venue.replay_trade(BTC, 600_000, 3, SELL, "t2")
    (fill,) = fills_of(second.to(A))
    assert (fill.price_ticks, fill.size_lots, fill.liquidity) == (600_000, 2, LiquiditySide.MAKER)
    # the anonymous size the trades took is back, behind us: the book still shows the recording
    assert venue.engine(BTC).level(BUY, 600_000) == (6, 5)
    assert [m.trade_id for m in second.public if isinstance(m, Trade)] == ["BTCUSDT-rt2"]


def test_replayed_sweep_leaves_better_priced_anonymous_size_taken_so_later_prints_reach_our_order() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [(599_990, 5)], [(600_001, 5), (600_002, 5)])
    venue.handle(submit("s1", SELL, 3, 600_002), A)  # behind 5 anonymous lots at 600002
    # A print at 600002 proves the recorded 600001 was already gone: what the replay took there stays taken.
    assert venue.replay_trade(BTC, 600_002, 8, BUY, "t1").to(A) == []  # took 5 at 600001, 3 ahead of us
    assert venue.engine(BTC).level(SELL, 600_001) == (0, 0)
    (fill,) = fills_of(venue.replay_trade(BTC, 600_002, 4, BUY, "t2").to(A))  # 2 left ahead, then us
    assert (fill.price_ticks, fill.size_lots, fill.liquidity) == (600_002, 2, LiquiditySide.MAKER)


def test_replayed_level_crossing_our_resting_order_fills_it_whole_as_maker() -> None:
    venue = make_venue()
    venue.set_levels(BTC, [(599_990, 5)], [(600_010, 5)])
    venue.handle(submit("s1", SELL, 3, 600_005), A)
    out = venue.set_levels(BTC, [(600_006, 9)], [])  # the market now bids above our ask
    (fill,) = fills_of(out.to(A))
    assert (fill.price_ticks, fill.size_lots, fill.liquidity) == (600_005, 3, LiquiditySide.MAKER)
    assert [m.aggressor for m in out.public if isinstance(m, Trade)] == [BUY]


def test_same_commands_at_same_times_give_identical_events() -> None:
    def run() -> bytes:
        clock = Clock()
        venue = make_venue(clock=clock)
        outputs = []
        venue.set_levels(BTC, [(599_990, 5)], [(600_010, 5)])
        for i, command in enumerate(
            [submit("a", BUY, 2, 599_995), submit("b", SELL, 7, 599_990), submit("c", BUY, 9), cancel("a")]
        ):
            clock.tick()
            out = venue.handle(command, A if i % 2 else B)
            outputs.append((out.private, out.public))
        return msgspec.msgpack.encode([outputs, venue.record()])

    assert run() == run()


def test_a_new_venue_session_never_reuses_trade_or_order_ids():
    """The OMS journal spans venue restarts and dedups fills by trade id: ids must differ across sessions."""

    def one_fill(session: str) -> VenueFill:
        venue = make_venue(session=session)
        venue.handle(submit("m", SELL, 1, 100, account_id="maker"), "maker")
        out = venue.handle(submit("t", BUY, 1, 100, account_id="taker"), "taker")
        return next(e for e in out.to("taker") if isinstance(e, VenueFill))

    first, second = one_fill("a.").fill, one_fill("b.").fill
    assert first.trade_id != second.trade_id
    assert first.venue_order_id != second.venue_order_id
