"""Fees are exact Decimals at the edge: maker and taker rates applied to the trade's notional."""

from __future__ import annotations

from decimal import Decimal

from jtrader.domain import InstrumentKind, LiquiditySide, Side
from jtrader.matching import Filled, MatchingEngine
from tests.matching.builders import make_instrument


def _trade(instrument) -> tuple[Filled, Filled]:
    engine = MatchingEngine(instrument)
    engine.submit(1, 1, Side.SELL, 1_500, 618_003)  # 1.5 BTC at 61800.3
    events = [e for e in engine.submit(2, 2, Side.BUY, 1_500, 618_003) if isinstance(e, Filled)]
    taker, maker = events
    return taker, maker


def test_taker_pays_the_taker_rate_and_maker_gets_the_rebate_on_the_same_notional():
    taker, maker = _trade(make_instrument(maker_fee="-0.0001", taker_fee="0.0004"))
    notional = Decimal("61800.3") * Decimal("1.5")
    assert taker.liquidity is LiquiditySide.TAKER and maker.liquidity is LiquiditySide.MAKER
    assert taker.fee == notional * Decimal("0.0004") == Decimal("37.08018")
    assert maker.fee == notional * Decimal("-0.0001") == Decimal("-9.270045")
    assert taker.fee_currency == maker.fee_currency == "USDT"


def test_fee_equals_instrument_notional_times_rate_exactly():
    instrument = make_instrument(maker_fee="0.00018", taker_fee="0.000375")
    engine = MatchingEngine(instrument)
    for ticks, lots in [(1, 1), (618_003, 1_500), (123_456_789, 987_654_321)]:
        notional = instrument.notional(instrument.ticks_to_price(ticks), instrument.lots_to_size(lots))
        assert engine.fee(ticks, lots, LiquiditySide.MAKER) == notional * Decimal("0.00018")
        assert engine.fee(ticks, lots, LiquiditySide.TAKER) == notional * Decimal("0.000375")


def test_zero_fee_instrument_charges_zero():
    taker, maker = _trade(make_instrument())
    assert taker.fee == 0 and maker.fee == 0


def test_inverse_contract_fee_is_on_the_base_currency_notional():
    instrument = make_instrument(maker_fee="-0.00025", taker_fee="0.00075", kind=InstrumentKind.INVERSE_PERPETUAL)
    taker, maker = _trade(instrument)
    notional = Decimal("1.5") / Decimal("61800.3")
    assert taker.fee == notional * Decimal("0.00075")
    assert maker.fee == notional * Decimal("-0.00025")
    assert taker.fee_currency == "BTC"
