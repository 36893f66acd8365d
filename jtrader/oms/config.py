"""Typed, frozen OMS settings (policies, not limits: limits live in :mod:`jtrader.risk.config`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from jtrader.domain import Venue

__all__ = ["OmsConfig"]

_VENUES = ", ".join(v.value for v in Venue)


class OmsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """OMS policies.

    - ``cancel_on_disconnect``: cancel a strategy host's open orders when it disconnects.
    - ``publish_execution_reports``: also publish every execution report on the
      state channel (the owner always gets it directly).
    - ``lost_order_policy``: what reconciliation does with an order the venue never
      received (accepted and journaled, never acknowledged, not open at the venue
      and without fills): ``"reject"`` (default; the owner gets ``OrderRejected``
      VENUE_REJECT and may resubmit with a new id) or ``"resubmit"`` (send it again
      under the same client order id, which venues deduplicate).
    - ``cancel_unknown_venue_orders``: reconciliation cancels venue orders the OMS
      has no record of (default: report them only; they may be manual orders).
    - ``starting_balances``: venue code -> asset -> amount the account held before
      the OMS's first fill there. Without an entry, the venue's balances at the
      first reconciliation are taken as they are (nothing to compare yet).
    - ``balance_tolerance``: reconciliation reports a balance difference only when
      it exceeds this absolute amount (0: any difference; raise it for venues that
      round the balances they report).
    - ``checkpoint_every_records`` / ``checkpoint_every_bytes``:
      :meth:`OmsEngine.maybe_checkpoint` writes a checkpoint and starts a new
      journal segment once this many records or bytes were journaled since the
      last one (0: never by that measure).
    - ``journal_keep_segments``: journal segments (and their checkpoints) kept before the
      newest checkpoint, for audit and as a fallback; older ones are deleted.

    Example::

        >>> OmsConfig().lost_order_policy
        'reject'
        >>> OmsConfig(starting_balances={"sim": {"USDT": Decimal(1000)}}).starting_balances["sim"]["USDT"]
        Decimal('1000')
    """

    cancel_on_disconnect: bool = True
    publish_execution_reports: bool = True
    lost_order_policy: Literal["reject", "resubmit"] = "reject"
    cancel_unknown_venue_orders: bool = False
    flatten_strategy_id: str = "operator.flatten"
    starting_balances: dict[str, dict[str, Decimal]] = {}
    balance_tolerance: Decimal = Decimal(0)
    checkpoint_every_records: int = 1_000_000
    checkpoint_every_bytes: int = 256 << 20
    journal_keep_segments: int = 2

    def __post_init__(self) -> None:
        for venue, balances in self.starting_balances.items():
            if venue not in Venue._value2member_map_:
                raise ValueError(f"starting_balances: unknown venue {venue!r}, expected one of {_VENUES}")
            for asset, amount in balances.items():
                if not amount.is_finite():
                    raise ValueError(f"starting_balances[{venue!r}][{asset!r}]: expected a finite amount, got {amount}")
        if not self.balance_tolerance.is_finite() or self.balance_tolerance < 0:
            raise ValueError(f"balance_tolerance: expected a finite amount >= 0, got {self.balance_tolerance}")
        for name in ("checkpoint_every_records", "checkpoint_every_bytes", "journal_keep_segments"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected 0 or more, got {getattr(self, name)}")
