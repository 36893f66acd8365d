"""Features and labels, each defined once and computed incrementally.

The engines (:class:`BookFeatureEngine`, :class:`BarFeatureEngine`) are what a
live or backtest strategy calls from its event handlers; :mod:`.replay` runs
the same engines over lake rows for research and for the Spark job
(:mod:`spark_jobs.features`), so offline and online values agree exactly.
Labels (:func:`add_labels`) need the future and exist only offline.

Exceptions: a bad config raises ``ValueError`` naming the field; book features
for a venue without sequencing rules raise ``ValueError``; an unknown
instrument raises :class:`jtrader.domain.errors.UnknownInstrument`.
"""

from jtrader.features.bars import BarFeatureConfig, BarFeatureEngine, bar_feature_names
from jtrader.features.book import BookFeatureConfig, BookFeatureEngine, book_feature_names
from jtrader.features.labels import add_labels
from jtrader.features.replay import (
    bar_features_from_rows,
    book_features_from_events,
    instrument_for,
    order_book_events,
)

__all__ = [
    "BarFeatureConfig",
    "BarFeatureEngine",
    "BookFeatureConfig",
    "BookFeatureEngine",
    "add_labels",
    "bar_feature_names",
    "bar_features_from_rows",
    "book_feature_names",
    "book_features_from_events",
    "instrument_for",
    "order_book_events",
]
