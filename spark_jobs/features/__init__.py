"""Spark feature jobs: the lake in, feature tables (partitioned like the inputs) out.

The feature definitions live in :mod:`jtrader.features`; these jobs only
distribute them per instrument with ``groupBy(...).applyInPandas(...)``.
"""

from spark_jobs.features.build import (
    FeatureBuild,
    bar_feature_columns,
    book_feature_columns,
    build_bar_features,
    build_book_features,
    feature_table_path,
    read_feature_table,
)

__all__ = [
    "FeatureBuild",
    "bar_feature_columns",
    "book_feature_columns",
    "build_bar_features",
    "build_book_features",
    "feature_table_path",
    "read_feature_table",
]
