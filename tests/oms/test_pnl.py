"""Positions and PnL on hand-computed numbers: linear and inverse, fees, marks, funding."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from jtrader.bus.messages import PositionUpdate
from jtrader.domain import Bar, Position, Side, Trade
from jtrader.oms import TOPIC_POSITION, unrealised_pnl
from tests.oms.builders import INVERSE, LINEAR, SPOT, fill, make_fill, make_oms, place, published, quote

TINY = Decimal("1e-20")


def test_linear_pnl_with_fees_marked_to_mid():
    oms = make_oms()  # mid 60,000.0
    place(oms, "b1", lots=1000, price=600_000)
    oms.on_venue_event(fill("b1", 1000, price=600_000, fee="24"))  # 1 BTC @ 60,000, fee 24 USDT
    place(oms, "b2", lots=1000, price=610_000)
    oms.on_venue_event(fill("b2", 1000, price=610_000, fee="24.4"))  # 1 BTC @ 61,000
    place(oms, "s1", side=Side.SELL, lots=500, price=620_000)
    out = oms.on_venue_event(fill("s1", 500, price=620_000, side=Side.SELL, fee="12.4"))  # 0.5 BTC @ 62,000
    position = oms.position(LINEAR.id)
    assert position.net_lots == 1500
    assert position.avg_entry == Decimal("60500")
    assert position.realised_pnl == Decimal("750")  # 0.5 * (62,000 - 60,500)
    assert position.fees == Decimal("60.8")
    update = published(out, TOPIC_POSITION)[0]
    assert isinstance(update, PositionUpdate)
    assert (update.net_lots, update.realised_pnl, update.fees) == (1500, Decimal("750"), Decimal("60.8"))
    assert update.unrealised_pnl == Decimal("-750")  # 1.5 * (60,000 - 60,500) at the mid of that moment
    oms.on_market_data(quote(LINEAR.id, 629_990, 630_010))  # mid 63,000.0
    assert oms.unrealised(LINEAR.id) == Decimal("3750")  # 1.5 * (63,000 - 60,500)


def test_mid_between_ticks_marks_exactly():
    oms = make_oms()
    place(oms, "b", lots=1000)
    oms.on_venue_event(fill("b", 1000, price=600_000))
    oms.on_market_data(quote(LINEAR.id, 600_000, 600_001))  # mid 60,000.05
    assert oms.unrealised(LINEAR.id) == Decimal("0.05")


def test_mark_follows_the_last_trade_or_bar_close():
    oms = make_oms()
    place(oms, "b", lots=1000)
    oms.on_venue_event(fill("b", 1000, price=600_000))
    oms.on_market_data(
        Trade(
            instrument_id=LINEAR.id,
            price_ticks=601_000,
            size_lots=1,
            aggressor=Side.BUY,
            trade_id="x",
            ts_event=1,
            ts_recv=1,
        )
    )
    assert oms.unrealised(LINEAR.id) == Decimal("100")
    oms.on_market_data(
        Bar(
            instrument_id=LINEAR.id,
            open_ticks=601_000,
            high_ticks=603_000,
            low_ticks=600_000,
            close_ticks=602_000,
            volume=1.0,
            quote_volume=1.0,
            trade_count=1,
            interval_ns=60,
            ts_event=60,
            ts_recv=60,
        )
    )
    assert oms.unrealised(LINEAR.id) == Decimal("200")


def test_short_linear_position_gains_when_price_falls():
    oms = make_oms()
    place(oms, "s", side=Side.SELL, lots=2000, price=600_000)
    oms.on_venue_event(fill("s", 2000, price=600_000, side=Side.SELL, fee="-1.2"))  # maker rebate
    oms.on_market_data(quote(LINEAR.id, 589_990, 590_010))  # 59,000
    assert oms.unrealised(LINEAR.id) == Decimal("2000")  # 2 BTC * 1,000
    assert oms.position(LINEAR.id).fees == Decimal("-1.2")


def test_inverse_pnl_in_coin_with_harmonic_entry_and_fees():
    oms = make_oms()
    place(oms, "b1", lots=10, instrument=INVERSE, price=500_000)
    oms.on_venue_event(fill("b1", 10, price=500_000, instrument=INVERSE, fee="0.00001"))  # 10 x 100 USD @ 50,000
    place(oms, "b2", lots=10, instrument=INVERSE, price=400_000)
    oms.on_venue_event(fill("b2", 10, price=400_000, instrument=INVERSE, fee="0.00001"))  # @ 40,000
    position = oms.position(INVERSE.id)
    # harmonic: 20 / (10/50,000 + 10/40,000) = 44,444.44...
    assert abs(position.avg_entry - Decimal(20) / (Decimal(10) / 50_000 + Decimal(10) / 40_000)) < TINY
    place(oms, "s1", side=Side.SELL, lots=10, instrument=INVERSE, price=500_000)
    oms.on_venue_event(fill("s1", 10, price=500_000, instrument=INVERSE, side=Side.SELL))
    # 1,000 USD closed: 1,000 * (1/44,444.44 - 1/50,000) = 1,000 * (0.0000225 - 0.00002) = 0.0025 BTC
    assert abs(position.realised_pnl - Decimal("0.0025")) < TINY
    assert position.fees == Decimal("0.00002")
    oms.on_market_data(quote(INVERSE.id, 549_990, 550_010))  # mid 55,000
    # 1,000 * (0.0000225 - 1/55,000) = 0.00431818... BTC
    assert abs(oms.unrealised(INVERSE.id) - Decimal(1000) * (Decimal("0.0000225") - 1 / Decimal(55_000))) < TINY


def test_inverse_short_loses_coin_when_price_rises():
    oms = make_oms()
    place(oms, "s", side=Side.SELL, lots=60, instrument=INVERSE, price=600_000)
    oms.on_venue_event(fill("s", 60, price=600_000, instrument=INVERSE, side=Side.SELL))
    oms.on_market_data(quote(INVERSE.id, 749_990, 750_010))  # 75,000
    # short 6,000 USD: -(6,000 * (1/60,000 - 1/75,000)) = -0.02 BTC
    assert abs(oms.unrealised(INVERSE.id) + Decimal("0.02")) < TINY


def test_funding_is_paid_by_longs_on_the_linear_notional_at_the_mark():
    oms = make_oms()
    place(oms, "b", lots=1500)
    oms.on_venue_event(fill("b", 1500, price=600_000))
    out = oms.apply_funding(LINEAR.id, Decimal("0.0001"), 630_000)  # mark 63,000
    # 1.5 BTC * 63,000 = 94,500 USDT notional; 0.01% = 9.45 paid by the long
    assert oms.funding_total(LINEAR.id) == Decimal("-9.45")
    assert oms.position(LINEAR.id).realised_pnl == Decimal("-9.45")
    assert published(out, TOPIC_POSITION)[0].realised_pnl == Decimal("-9.45")


def test_funding_is_received_by_shorts_and_on_inverse_in_coin():
    oms = make_oms()
    place(oms, "s", side=Side.SELL, lots=10, instrument=INVERSE, price=600_000)
    oms.on_venue_event(fill("s", 10, price=600_000, instrument=INVERSE, side=Side.SELL))
    oms.apply_funding(INVERSE.id, Decimal("0.0001"), 500_000)  # mark 50,000
    # 1,000 USD / 50,000 = 0.02 BTC notional; the short receives 0.000002 BTC
    assert oms.funding_total(INVERSE.id) == Decimal("0.000002")
    oms.apply_funding(INVERSE.id, Decimal("-0.0002"), 500_000)  # negative rate: the short pays
    assert oms.funding_total(INVERSE.id) == Decimal("-0.000002")
    assert oms.position(INVERSE.id).realised_pnl == Decimal("-0.000002")


def test_funding_on_a_flat_position_pays_nothing():
    oms = make_oms()
    assert oms.apply_funding(LINEAR.id, Decimal("0.01"), 600_000) == []
    assert oms.funding_total(LINEAR.id) == 0


def test_positions_are_kept_per_instrument_and_venue():
    oms = make_oms()
    place(oms, "a", lots=1000)
    place(oms, "b", lots=10, instrument=INVERSE)
    place(oms, "c", lots=10, instrument=SPOT, price=300_000)
    for cid, instrument, lots in (("a", LINEAR, 1000), ("b", INVERSE, 10), ("c", SPOT, 10)):
        oms.on_venue_event(fill(cid, lots, price=600_000 if instrument is not SPOT else 300_000, instrument=instrument))
    rows = {row["instrument_id"]: row for row in oms.positions_json()}
    assert (
        rows["BTCUSDT.binance_usdm"]["net_quantity"] == "1.000" and rows["BTCUSDT.binance_usdm"]["currency"] == "USDT"
    )
    assert rows["BTCUSD_PERP.binance_coinm"]["currency"] == "BTC"
    assert rows["ETHUSDT.binance"]["net_lots"] == 10
    assert {p.account_id for p in oms.snapshot().positions} == {"acct-1"}


@given(
    st.sampled_from([LINEAR, INVERSE]),
    st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 50), st.integers(400_000, 800_000)),
        min_size=1,
        max_size=8,
    ),
    st.integers(400_000, 800_000),
)
def test_unrealised_pnl_at_whole_ticks_equals_the_domain_position(instrument, trades, mark):
    position = Position(instrument_id=instrument.id)
    for i, (side, lots, price) in enumerate(trades):
        position.apply_fill(instrument, make_fill(f"c{i}", lots, price, f"t{i}", side=side, instrument=instrument))
    expected = position.unrealised_pnl(instrument, mark)
    assert unrealised_pnl(position, instrument, instrument.ticks_to_price(mark).as_decimal()) == expected


def test_funding_with_a_bad_mark_is_refused_before_anything_is_booked():
    import pytest

    from jtrader.domain import InvalidValue

    oms = make_oms()
    place(oms, "b", lots=10)
    oms.on_venue_event(fill("b", 10))
    with pytest.raises(InvalidValue, match="positive mark"):
        oms.apply_funding(LINEAR.id, Decimal("0.0001"), 0)
    assert oms.funding_total(LINEAR.id) == 0
