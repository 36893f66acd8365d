"""Price-time-priority matching, compiled with numba: one engine per instrument.

One implementation serves the simulated venue (per-call :meth:`MatchingEngine.submit`,
:meth:`~MatchingEngine.cancel`, :meth:`~MatchingEngine.amend`) and the
backtester's full-book mode (:meth:`MatchingEngine.process_batch` over a
``COMMAND_DTYPE`` array, with replayed L2 levels as anonymous liquidity).

Rules the engine guarantees:

- Orders: limit, market, stop-market, stop-limit; GTC, IOC, FOK, post-only
  (limit only). Market orders are IOC unless FOK. Trades print at the
  maker's price; within a level, first in, first filled.
- Stops wait until a trade prints at or through the trigger (buy: price >=
  trigger; sell: price <= trigger), or trigger at once if the last trade
  already did. Stops reached in one step enter one by one: buy stops before
  sell stops, each in trigger order (nearest the market first), then arrival.
  Their own trades can trigger more (cascade), all within the same command.
- Amend (cancel/replace) sets the total quantity: a reduction at an unchanged
  price keeps queue priority, anything else sends the order to the back.
- Anonymous level liquidity (``SET_LEVEL``) queues with our orders by arrival;
  decreases come out of its back first (see :meth:`MatchingEngine.set_level`).
- Self-trade prevention is not done here (the risk layer does it); fills
  carry both owners.
- Fees are exact ``Decimal`` at the Python edge (notional times the
  instrument's maker or taker rate, negative = rebate); the kernel deals in
  ticks and lots only.

Nothing raises for bad market input: a bad command gives one REJECTED event
with a :class:`Reason` and leaves the book untouched::

    Reason (REJECTED)          BAD_COMMAND, BAD_ORDER_ID, BAD_SIDE, BAD_ORDER_TYPE,
                               BAD_TIME_IN_FORCE, BAD_QUANTITY, BAD_PRICE, BAD_TRIGGER,
                               DUPLICATE_ORDER_ID, UNKNOWN_ORDER, POST_ONLY_WOULD_TAKE,
                               FOK_NOT_FILLABLE, NO_LIQUIDITY
    Reason (CANCELLED)         REQUESTED, IOC_REMAINDER; a triggered stop that cannot
                               enter: NO_LIQUIDITY, FOK_NOT_FILLABLE

Python-edge exceptions (programming errors, never market data)::

    TypeError    a non-int field passed to a per-call method; a batch whose dtype
                 is not COMMAND_DTYPE
    ValueError   bad constructor sizes (initial_levels, initial_orders)

:class:`ReferenceBook` is the same rules in plain Python: the specification the
kernel is tested against, and the benchmark's baseline.
"""

from jtrader.matching.engine import MatchingEngine, warm_up
from jtrader.matching.messages import (
    ANONYMOUS_OWNER,
    COMMAND_DTYPE,
    EVENT_DTYPE,
    MAX_LOTS,
    MAX_PRICE_TICKS,
    Accepted,
    Amended,
    Cancelled,
    CommandKind,
    EngineEvent,
    EventKind,
    Filled,
    LiquidityCode,
    OrderTypeCode,
    OrderView,
    Reason,
    Rejected,
    SideCode,
    TimeInForceCode,
    Triggered,
    new_commands,
)
from jtrader.matching.reference import ReferenceBook

__all__ = [
    "ANONYMOUS_OWNER",
    "COMMAND_DTYPE",
    "EVENT_DTYPE",
    "MAX_LOTS",
    "MAX_PRICE_TICKS",
    "Accepted",
    "Amended",
    "Cancelled",
    "CommandKind",
    "EngineEvent",
    "EventKind",
    "Filled",
    "LiquidityCode",
    "MatchingEngine",
    "OrderTypeCode",
    "OrderView",
    "Reason",
    "ReferenceBook",
    "Rejected",
    "SideCode",
    "TimeInForceCode",
    "Triggered",
    "new_commands",
    "warm_up",
]
