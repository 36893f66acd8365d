from decimal import Decimal

import msgspec
import pytest

from jtrader.domain import (
    Bar,
    BookSnapshot,
    Fill,
    InstrumentId,
    InvalidValue,
    LiquiditySide,
    Order,
    OrderType,
    Position,
    Quote,
    Side,
    TimeInForce,
    Trade,
    Venue,
)
from tests.domain.test_instruments import inverse, linear

BTC = InstrumentId("BTCUSDT", Venue.BINANCE_USDM)


def fill(instrument, side, price, lots, fee="0"):
    return Fill(
        client_order_id="c",
        venue_order_id="v",
        trade_id=f"t{price}{lots}",
        instrument_id=instrument.id,
        side=side,
        price_ticks=instrument.parse_price_ticks(price),
        size_lots=lots,
        liquidity=LiquiditySide.TAKER,
        fee=Decimal(fee),
        ts_event=1,
        ts_recv=2,
    )


def test_limit_order_without_price_is_rejected():
    with pytest.raises(InvalidValue, match="needs a positive price"):
        Order(client_order_id="c1", instrument_id=BTC, side=Side.BUY, order_type=OrderType.LIMIT, quantity_lots=1)


def test_market_order_with_price_is_rejected_with_advice():
    with pytest.raises(InvalidValue, match="use a limit order with IOC"):
        Order(
            client_order_id="c1",
            instrument_id=BTC,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            quantity_lots=1,
            price_ticks=5,
        )


@pytest.mark.parametrize("lots", [0, -3])
def test_order_with_non_positive_quantity_is_rejected(lots):
    with pytest.raises(InvalidValue, match="quantity must be positive"):
        Order(client_order_id="c1", instrument_id=BTC, side=Side.BUY, order_type=OrderType.MARKET, quantity_lots=lots)


def test_post_only_market_order_is_rejected():
    with pytest.raises(InvalidValue, match="post-only"):
        Order(
            client_order_id="c1",
            instrument_id=BTC,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            quantity_lots=1,
            time_in_force=TimeInForce.POST_ONLY,
        )


def test_linear_position_averages_entries_and_realises_on_reduce():
    instrument = linear()
    position = Position(instrument_id=instrument.id)
    position.apply_fill(instrument, fill(instrument, Side.BUY, "100.0", 1000, fee="0.05"))  # 1 BTC @ 100
    position.apply_fill(instrument, fill(instrument, Side.BUY, "110.0", 1000))  # 1 BTC @ 110
    assert position.avg_entry == Decimal("105")
    realised = position.apply_fill(instrument, fill(instrument, Side.SELL, "120.0", 500))
    assert realised == Decimal("7.5")  # 0.5 BTC * (120 - 105)
    assert position.net_lots == 1500
    assert position.unrealised_pnl(instrument, instrument.parse_price_ticks("100.0")) == Decimal("-7.5")
    assert position.fees == Decimal("0.05")


def test_position_flip_opens_the_rest_at_the_fill_price():
    instrument = linear()
    position = Position(instrument_id=instrument.id)
    position.apply_fill(instrument, fill(instrument, Side.BUY, "100.0", 1000))
    realised = position.apply_fill(instrument, fill(instrument, Side.SELL, "90.0", 3000))
    assert realised == Decimal("-10")
    assert position.net_lots == -2000 and position.avg_entry == Decimal("90")
    # the short gains when the price falls
    assert position.unrealised_pnl(instrument, instrument.parse_price_ticks("80.0")) == Decimal("20")


def test_inverse_position_pnl_is_in_coin_with_harmonic_entry():
    instrument = inverse()
    position = Position(instrument_id=instrument.id)
    position.apply_fill(instrument, fill(instrument, Side.BUY, "50000", 10))
    position.apply_fill(instrument, fill(instrument, Side.BUY, "40000", 10))
    # harmonic mean of 50k and 40k: 20 / (10/50000 + 10/40000)
    assert position.avg_entry == Decimal(20) / (Decimal(10) / 50000 + Decimal(10) / 40000)
    realised = position.apply_fill(instrument, fill(instrument, Side.SELL, "50000", 20))
    # long 2,000 USD of contracts from a 44,444.4 entry to 50,000: 2000 * (1/44444.4 - 1/50000) BTC
    assert abs(realised - Decimal("0.005")) < Decimal("1e-20")
    assert position.net_lots == 0


def test_crossed_quote_is_rejected():
    with pytest.raises(InvalidValue, match="crossed"):
        Quote(instrument_id=BTC, bid_ticks=101, bid_lots=1, ask_ticks=100, ask_lots=1, ts_event=1, ts_recv=1)


def test_snapshot_with_unsorted_side_is_rejected():
    BookSnapshot(
        instrument_id=BTC, bids=[(2, 1), (1, 1)], asks=[(3, 1), (4, 1)], last_update_id=1, ts_event=1, ts_recv=1
    )
    with pytest.raises(InvalidValue, match="asks must be strictly ascending"):
        BookSnapshot(instrument_id=BTC, bids=[(2, 1)], asks=[(4, 1), (3, 1)], last_update_id=1, ts_event=1, ts_recv=1)
    with pytest.raises(InvalidValue, match="bids must be strictly descending"):
        BookSnapshot(instrument_id=BTC, bids=[(1, 1), (2, 1)], asks=[(3, 1)], last_update_id=1, ts_event=1, ts_recv=1)


def test_bar_with_inconsistent_ohlc_or_nan_volume_is_rejected():
    kwargs = dict(
        instrument_id=BTC,
        open_ticks=10,
        high_ticks=12,
        low_ticks=9,
        close_ticks=11,
        volume=1.0,
        quote_volume=10.0,
        trade_count=3,
        interval_ns=60_000_000_000,
        ts_event=60_000_000_000,
        ts_recv=1,
    )
    assert Bar(**kwargs).ts_open == 0
    with pytest.raises(InvalidValue, match="inconsistent OHLC"):
        Bar(**{**kwargs, "high_ticks": 10})
    with pytest.raises(InvalidValue, match="volumes"):
        Bar(**{**kwargs, "volume": float("nan")})


def test_events_round_trip_through_msgpack_and_validate_on_decode():
    trade = Trade(
        instrument_id=BTC,
        price_ticks=618003,
        size_lots=6,
        aggressor=Side.BUY,
        trade_id="5266583935",
        ts_event=1723161256322000000,
        ts_recv=1723161255088176367,
    )
    encoded = msgspec.msgpack.encode(trade)
    assert msgspec.msgpack.decode(encoded, type=Trade) == trade
    bad = msgspec.msgpack.encode(
        {
            "type": "trade",
            "instrument_id": ["BTCUSDT", "binance_usdm"],
            "price_ticks": -1,
            "size_lots": 1,
            "aggressor": "buy",
            "trade_id": "x",
            "ts_event": 1,
            "ts_recv": 1,
        }
    )
    with pytest.raises(msgspec.ValidationError, match="price must be positive"):
        msgspec.msgpack.decode(bad, type=Trade)
