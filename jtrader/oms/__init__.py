"""The order management system core: order state machine, risk gate, routing, positions, PnL and journal.

Entry point: :class:`OmsEngine` (pure, clock injected; returns outputs for the
runtime to send). :class:`Journal` is its write-ahead log, in segments with
checkpoints (:meth:`OmsEngine.maybe_checkpoint`); recover with
:meth:`OmsEngine.from_journal`, then :meth:`OmsEngine.reconcile` with each venue.
:meth:`OmsEngine.changes_since` feeds incremental copies to a reporting store.

Exceptions::

    OmsError(Exception)
     +-- RecoveryError        a journal that cannot be replayed into this configuration
    JournalError(Exception)
     +-- JournalCorrupt       not a journal, or a record that passes its CRC but does not decode
"""

from jtrader.oms.config import OmsConfig
from jtrader.oms.engine import NS_PER_DAY, OmsEngine, OmsError, RecoveryError, RecoveryInfo, unrealised_pnl
from jtrader.oms.journal import (
    Journal,
    JournalCorrupt,
    JournalError,
    JournalFiles,
    JournalReplay,
    journal_exists,
    journal_files,
    repair,
    replay,
)
from jtrader.oms.messages import (
    TOPIC_EXECUTION,
    TOPIC_POSITION,
    TOPIC_RISK,
    AmendRequested,
    AnyRecord,
    BalancesBaselined,
    CancelRequested,
    ChangeCursor,
    CheckpointOrder,
    CommandRejected,
    DayStarted,
    Difference,
    FundingApplied,
    OmsChanges,
    OmsCheckpoint,
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
    "BalancesBaselined",
    "CancelRequested",
    "ChangeCursor",
    "CheckpointOrder",
    "CommandRejected",
    "DayStarted",
    "Difference",
    "FundingApplied",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalFiles",
    "JournalReplay",
    "OmsConfig",
    "OmsEngine",
    "OmsChanges",
    "OmsCheckpoint",
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
    "journal_exists",
    "journal_files",
    "repair",
    "replay",
    "unrealised_pnl",
]
