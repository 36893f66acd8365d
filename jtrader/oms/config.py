"""Typed, frozen OMS settings (policies, not limits: limits live in :mod:`jtrader.risk.config`)."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["OmsConfig"]


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

    Example::

        >>> OmsConfig().lost_order_policy
        'reject'
    """

    cancel_on_disconnect: bool = True
    publish_execution_reports: bool = True
    lost_order_policy: Literal["reject", "resubmit"] = "reject"
    cancel_unknown_venue_orders: bool = False
    flatten_strategy_id: str = "operator.flatten"
