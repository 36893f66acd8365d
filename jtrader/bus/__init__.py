"""The bus: ZeroMQ transport for market data, order commands, execution reports and OMS state.

The wire protocol lives in :mod:`jtrader.bus.messages`, the sockets in
:mod:`jtrader.bus.transport`, CURVE keys in :mod:`jtrader.bus.auth`.
"""

from jtrader.bus.auth import ClientCurve, ServerCurve, generate_keys
from jtrader.bus.transport import CommandClient, CommandServer, Poller, Publisher, Subscriber

__all__ = [
    "ClientCurve",
    "CommandClient",
    "CommandServer",
    "Poller",
    "Publisher",
    "ServerCurve",
    "Subscriber",
    "generate_keys",
]
