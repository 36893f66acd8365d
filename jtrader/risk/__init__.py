"""Pre-trade risk: typed limits, O(1) checks on incremental aggregates, and the kill-switch latch.

Entry points: :class:`RiskLimits` (the config) and :class:`RiskEngine` (the
checks); the OMS (:mod:`jtrader.oms`) owns the engine and journals its state.

Exceptions::

    RiskError(Exception)
     +-- RiskConfigError(RiskError, ValueError)   a bad or unknown limit
"""

from jtrader.risk.config import LimitSet, RiskConfigError, RiskError, RiskLimits, load_limits
from jtrader.risk.engine import RiskCheckpoint, RiskEngine

__all__ = ["LimitSet", "RiskCheckpoint", "RiskConfigError", "RiskEngine", "RiskError", "RiskLimits", "load_limits"]
