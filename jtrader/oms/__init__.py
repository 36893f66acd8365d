"""The order management system core: order state machine, risk gate, routing, positions, PnL and journal.

Entry point: :class:`OmsEngine` (pure, clock injected; returns outputs for the
runtime to send). :class:`Journal` is its write-ahead log; recover with
:meth:`OmsEngine.from_journal`, then :meth:`OmsEngine.reconcile` with each venue.

Exceptions::

    OmsError(Exception)
     +-- RecoveryError        a journal that cannot be replayed into this configuration
    JournalError(Exception)
     +-- JournalCorrupt       not a journal, or a record that passes its CRC but does not decode
"""

from jtrader.oms.config import OmsConfig
from jtrader.oms.engine import NS_PER_DAY, OmsEngine, OmsError, RecoveryError, RecoveryInfo, unrealised_pnl
from jtrader.oms.journal import Journal, JournalCorrupt, JournalError, JournalReplay, repair, replay
from jtrader.oms.messages import (
    TOPIC_EXECUTION,
    TOPIC_POSITION,
    TOPIC_RISK,
    AmendRequested,
    AnyRecord,
    CancelRequested,
    CommandRejected,
    DayStarted,
    Difference,
    FundingApplied,
    OmsSnapshot,
    OrderAccepted,
    Output,
    PendingState,
    Publish,
    ReconcileReport,
    RiskStateChanged,
    Sender,
    ToClient,
    ToVenue,
    VenueEventApplied,
)

__all__ = [
    "NS_PER_DAY",
    "TOPIC_EXECUTION",
    "TOPIC_POSITION",
    "TOPIC_RISK",
    "AmendRequested",
    "AnyRecord",
    "CancelRequested",
    "CommandRejected",
    "DayStarted",
    "Difference",
    "FundingApplied",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalReplay",
    "OmsConfig",
    "OmsEngine",
    "OmsError",
    "OmsSnapshot",
    "OrderAccepted",
    "Output",
    "PendingState",
    "Publish",
    "ReconcileReport",
    "RecoveryError",
    "RecoveryInfo",
    "RiskStateChanged",
    "Sender",
    "ToClient",
    "ToVenue",
    "VenueEventApplied",
    "repair",
    "replay",
    "unrealised_pnl",
]
