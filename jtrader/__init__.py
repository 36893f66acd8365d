"""jtrader: the trading library and the 24/7 runtime."""

__version__ = "0.1.0"
