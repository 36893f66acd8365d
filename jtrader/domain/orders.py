"""Orders, fills and positions.

Quantities are instrument lots and prices instrument ticks (``int``); money
(PnL, fees) is ``Decimal`` in the instrument's settlement currency.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from jtrader.domain.enums import InstrumentKind, LiquiditySide, OrderStatus, OrderType, Side, TimeInForce
from jtrader.domain.errors import InvalidValue
from jtrader.domain.identifiers import InstrumentId
from jtrader.domain.instruments import Instrument

__all__ = ["Order", "Fill", "Position", "move_balances"]

_ZERO = Decimal(0)
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_TRIGGERED = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT})
_POST_ONLY = TimeInForce.POST_ONLY


# Orders and fills hold only values, never a reference that could form a cycle, so they stay out of the
# cyclic GC (gc=False): the OMS keeps every one, and tracking them made each collection rescan them all.
class Order(msgspec.Struct, kw_only=True, gc=False):
    """An order as the OMS tracks it. ``client_order_id`` is unique per account.

    Example::

        >>> from jtrader.domain.enums import Venue
        >>> Order(client_order_id="c1", instrument_id=InstrumentId("BTCUSDT", Venue.SIM),
        ...       side=Side.BUY, order_type=OrderType.LIMIT, quantity_lots=5, price_ticks=100).status
        <OrderStatus.NEW: 'new'>
    """

    client_order_id: str
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity_lots: int
    price_ticks: int | None = None
    trigger_ticks: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    strategy_id: str = ""
    account_id: str = ""
    venue_order_id: str | None = None
    status: OrderStatus = OrderStatus.NEW
    filled_lots: int = 0
    ts_init: int = 0
    ts_last: int = 0

    def __post_init__(self) -> None:
        # Runs for every order the OMS accepts: module constants, not enum class lookups, on the common path.
        cid = self.client_order_id
        if not cid:
            raise InvalidValue("order: client_order_id must not be empty")
        quantity, price, order_type = self.quantity_lots, self.price_ticks, self.order_type
        if quantity <= 0:
            raise InvalidValue(f"order {cid}: quantity must be positive, got {quantity} lots")
        if order_type in _PRICED and (price is None or price <= 0):
            raise InvalidValue(f"order {cid}: a {order_type} order needs a positive price, got {price}")
        if order_type is _MARKET and price is not None:
            raise InvalidValue(f"order {cid}: a market order takes no price; use a limit order with IOC to cap it")
        if order_type in _TRIGGERED and (self.trigger_ticks is None or self.trigger_ticks <= 0):
            raise InvalidValue(f"order {cid}: a {order_type} order needs a positive trigger price")
        if self.time_in_force is _POST_ONLY and order_type is not _LIMIT:
            raise InvalidValue(f"order {cid}: post-only applies to limit orders only")
        if not 0 <= self.filled_lots <= quantity:
            raise InvalidValue(f"order {cid}: filled {self.filled_lots} outside 0..{quantity} lots")

    @property
    def leaves_lots(self) -> int:
        return self.quantity_lots - self.filled_lots if self.status.is_open else 0

    @property
    def is_open(self) -> bool:
        return self.status.is_open


class Fill(msgspec.Struct, frozen=True, kw_only=True, tag="fill", gc=False):
    """One execution of an order; ``(instrument, trade_id, client_order_id)`` is unique.

    A venue's trade id alone is not: a trade between two of our own orders is
    two fills (one per side) with the same trade id.
    """

    client_order_id: str
    venue_order_id: str
    trade_id: str
    instrument_id: InstrumentId
    side: Side
    price_ticks: int
    size_lots: int
    liquidity: LiquiditySide
    fee: Decimal = _ZERO
    fee_currency: str = ""
    account_id: str = ""
    ts_event: int
    ts_recv: int

    def __post_init__(self) -> None:
        if self.price_ticks <= 0 or self.size_lots <= 0:
            raise InvalidValue(
                f"fill {self.trade_id}: price and size must be positive, "
                f"got {self.price_ticks} ticks, {self.size_lots} lots"
            )


class Position(msgspec.Struct, kw_only=True):
    """Net position in one instrument for one account, at average cost.

    ``avg_entry`` is the average entry price (arithmetic for spot and linear
    contracts, harmonic for inverse ones, as venues compute it); realised PnL
    and fees are in the settlement currency.
    """

    instrument_id: InstrumentId
    account_id: str = ""
    net_lots: int = 0
    avg_entry: Decimal = _ZERO
    realised_pnl: Decimal = _ZERO
    fees: Decimal = _ZERO
    ts_last: int = 0

    def apply_fill(self, instrument: Instrument, fill: Fill) -> Decimal:
        """Update the position with ``fill`` and return the PnL it realised."""
        if fill.instrument_id != self.instrument_id:
            raise InvalidValue(f"fill for {fill.instrument_id} applied to position in {self.instrument_id}")
        price = instrument.ticks_to_price(fill.price_ticks).as_decimal()
        signed = fill.size_lots * fill.side.sign
        realised = _ZERO
        if self.net_lots == 0 or (self.net_lots > 0) == (signed > 0):
            self.avg_entry = self._blend(instrument, abs(self.net_lots), fill.size_lots, price)
            self.net_lots += signed
        else:
            closed = min(abs(signed), abs(self.net_lots))
            realised = self._pnl(instrument, closed, price) * (1 if self.net_lots > 0 else -1)
            self.net_lots += signed
            if self.net_lots == 0:
                self.avg_entry = _ZERO
            elif (self.net_lots > 0) == (signed > 0):  # flipped: the rest opens at this price
                self.avg_entry = price
        self.realised_pnl += realised
        self.fees += fill.fee
        self.ts_last = fill.ts_event
        return realised

    def unrealised_pnl(self, instrument: Instrument, mark_ticks: int) -> Decimal:
        """PnL of the open position marked at ``mark_ticks`` (mid or mark price)."""
        if self.net_lots == 0:
            return _ZERO
        mark = instrument.ticks_to_price(mark_ticks).as_decimal()
        return self._pnl(instrument, abs(self.net_lots), mark) * (1 if self.net_lots > 0 else -1)

    def _size(self, instrument: Instrument, lots: int) -> Decimal:
        return instrument.lots_to_size(lots).as_decimal() * instrument.contract_size

    def _blend(self, instrument: Instrument, held: int, added: int, price: Decimal) -> Decimal:
        if held == 0:
            return price
        if instrument.is_inverse:  # harmonic: contracts are fixed quote amounts
            return (held + added) / (held / self.avg_entry + added / price)
        return (self.avg_entry * held + price * added) / (held + added)

    def _pnl(self, instrument: Instrument, lots: int, exit_price: Decimal) -> Decimal:
        """PnL of ``lots`` long from ``avg_entry`` to ``exit_price`` (negate for short)."""
        size = self._size(instrument, lots)
        if instrument.is_inverse:
            return size * (1 / self.avg_entry - 1 / exit_price)
        return size * (exit_price - self.avg_entry)


def move_balances(balances: dict[str, Decimal], instrument: Instrument, fill: Fill, realised: Decimal) -> None:
    """Move an account's ``balances`` (asset -> amount) by ``fill`` the way venues do.

    Spot: the base asset by the size, the quote asset by the notional.
    Derivatives: the settlement currency by ``realised`` (the PnL the fill
    realised on the position). Then the fee currency (the settlement currency
    if the fill names none) by the fee. The simulated venue and the OMS's
    expected balances both use this, in this order of additions, so they agree
    to the last digit.
    """
    if instrument.kind is InstrumentKind.SPOT:
        size = instrument.lots_to_size(fill.size_lots)
        notional = instrument.notional(instrument.ticks_to_price(fill.price_ticks), size)
        sign = fill.side.sign
        balances[instrument.base] = balances.get(instrument.base, _ZERO) + sign * size.as_decimal()
        balances[instrument.quote] = balances.get(instrument.quote, _ZERO) - sign * notional
    else:
        balances[instrument.settle] = balances.get(instrument.settle, _ZERO) + realised
    currency = fill.fee_currency or instrument.settle
    balances[currency] = balances.get(currency, _ZERO) - fill.fee
