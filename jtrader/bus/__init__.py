"""The bus: ZeroMQ transport for market data, order commands, execution reports and OMS state.

The wire protocol lives in :mod:`jtrader.bus.messages`.
"""
