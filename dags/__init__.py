"""Airflow DAGs: thin TaskFlow DAGs, each task one call into jtrader, models or spark_jobs."""
