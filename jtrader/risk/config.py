"""Typed, frozen pre-trade risk limits.

Limits are a :class:`RiskLimits` struct, built once (from TOML or a dict via
:func:`load_limits`) and handed to :class:`~jtrader.risk.engine.RiskEngine`.
Unknown keys are refused, so a misspelt limit never silently means "no limit".
Every limit is optional: ``None`` (or an absent instrument key) means unlimited.

Quantities are instrument units (``Decimal``, e.g. ``"1.5"`` BTC), keyed by the
instrument id string ``SYMBOL.venue``; money is in ``common_currency``.

Exposure currency: every notional is converted into ``common_currency`` with
the static ``currency_rates`` (units of common currency per unit of the quote
currency; stablecoins are 1 by default). Linear and spot notional is
``price * size * contract_size`` in the quote currency. Inverse notional is in
coin (``contracts * contract_size / price``); converted with the mark
(USD per coin) it is the face value ``contracts * contract_size`` in the quote
currency, which is what is used. Realised PnL of inverse contracts (in coin)
is converted with the instrument's current mark.

Exceptions::

    RiskError(Exception)
     +-- RiskConfigError(RiskError, ValueError)   a bad or unknown limit; the message
                                                  names the key, the value and the fix
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import msgspec

__all__ = ["LimitSet", "RiskLimits", "RiskError", "RiskConfigError", "load_limits"]


# Units of common currency (USD) per unit; replace or extend for other quote currencies.
STABLE_RATES: dict[str, Decimal] = {c: Decimal(1) for c in ("USD", "USDT", "USDC", "BUSD", "FDUSD")}


class RiskError(Exception):
    """Base of every risk-engine error."""


class RiskConfigError(RiskError, ValueError):
    """A limit is unknown or has a bad value; the message says which and what to do."""


class LimitSet(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Limits for one scope (one strategy, or the whole portfolio).

    Example::

        >>> LimitSet(max_order_quantity={"BTCUSDT.binance_usdm": Decimal("2")}).max_order_notional is None
        True
    """

    max_order_quantity: dict[str, Decimal] = {}  # instrument -> largest single order, instrument units
    max_position: dict[str, Decimal] = {}  # instrument -> largest |position + same-side open orders|
    max_order_notional: Decimal | None = None  # common currency, at the order price (reference for market orders)
    max_gross_exposure: Decimal | None = None  # sum over instruments of worst-case |position| at the mark
    max_orders_per_window: int | None = None  # submits and amends per rate_window_ns
    max_cancels_per_window: int | None = None  # client cancels and mass cancels per rate_window_ns


class RiskLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """All pre-trade limits: per strategy, portfolio-wide and global rules.

    ``strategies`` gives named strategies their own limits; every other strategy
    gets ``default_strategy``. The portfolio limits apply on top to every order.

    Example::

        >>> limits = RiskLimits(portfolio=LimitSet(max_gross_exposure=Decimal("1e6")), price_band_bps=500)
        >>> limits.no_reference
        'reject'
    """

    portfolio: LimitSet = LimitSet()
    strategies: dict[str, LimitSet] = {}
    default_strategy: LimitSet = LimitSet()
    daily_loss_limit: Decimal | None = None  # common currency; breach trips the kill switch
    rate_window_ns: int = 1_000_000_000
    price_band_bps: int | None = None  # |limit price - reference| <= band * reference
    reference_max_age_ns: int | None = None  # an older reference counts as none
    no_reference: Literal["reject", "allow"] = "reject"
    duplicate_window_ns: int | None = None  # same strategy/instrument/side/price/qty within it is refused
    self_trade_prevention: bool = True
    common_currency: str = "USD"
    currency_rates: dict[str, Decimal] = msgspec.field(default_factory=lambda: dict(STABLE_RATES))

    def __post_init__(self) -> None:
        if self.rate_window_ns <= 0:
            raise RiskConfigError(f"rate_window_ns: expected a positive duration in ns, got {self.rate_window_ns}")
        if self.price_band_bps is not None and self.price_band_bps < 0:
            raise RiskConfigError(f"price_band_bps: expected >= 0 basis points, got {self.price_band_bps}")
        if self.daily_loss_limit is not None and self.daily_loss_limit < 0:
            raise RiskConfigError(
                f"daily_loss_limit: expected a positive loss amount in {self.common_currency}, "
                f"got {self.daily_loss_limit}"
            )
        for currency, rate in self.currency_rates.items():
            if not rate.is_finite() or rate <= 0:
                raise RiskConfigError(f"currency_rates[{currency!r}]: expected a positive rate, got {rate}")
        _check_limit_set("portfolio", self.portfolio)
        _check_limit_set("default_strategy", self.default_strategy)
        for name, limits in self.strategies.items():
            _check_limit_set(f"strategies[{name!r}]", limits)

    def for_strategy(self, strategy_id: str) -> LimitSet:
        """Return the limits of ``strategy_id`` (its own, or ``default_strategy``)."""
        return self.strategies.get(strategy_id, self.default_strategy)


def _check_limit_set(name: str, limits: LimitSet) -> None:
    for field in ("max_order_quantity", "max_position"):
        for key, value in getattr(limits, field).items():
            if not value.is_finite() or value < 0:
                raise RiskConfigError(f"{name}.{field}[{key!r}]: expected a non-negative quantity, got {value}")
    for field in ("max_order_notional", "max_gross_exposure"):
        value = getattr(limits, field)
        if value is not None and (not value.is_finite() or value < 0):
            raise RiskConfigError(f"{name}.{field}: expected a non-negative amount, got {value}")
    for field in ("max_orders_per_window", "max_cancels_per_window"):
        value = getattr(limits, field)
        if value is not None and value < 0:
            raise RiskConfigError(f"{name}.{field}: expected a non-negative count, got {value}")


def load_limits(data: dict[str, Any]) -> RiskLimits:
    """Build :class:`RiskLimits` from plain data (a parsed TOML table); raise RiskConfigError naming the bad key."""
    try:
        return msgspec.convert(data, RiskLimits, strict=False)
    except (msgspec.ValidationError, RiskConfigError) as exc:
        raise RiskConfigError(f"bad risk limits: {exc}; fix the key named in the path") from None
