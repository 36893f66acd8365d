"""One place that builds a SparkSession from the settings.

Local mode binds the driver to loopback and disables the UI, so nothing
listens beyond this machine; any cluster is reached by ``spark_master``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from jtrader.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["spark_session"]


def spark_session(settings: Settings, app_name: str = "jtrader") -> SparkSession:
    """Return a (possibly existing) SparkSession for ``settings.spark_master``."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.warehouse.dir", str(settings.var_path / "spark-warehouse"))
    )
    if settings.spark_master.startswith("local"):
        # Python workers (pandas UDFs) must run this interpreter, which has jtrader's dependencies;
        # PySpark reads only the environment variable for that.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    return builder.getOrCreate()
