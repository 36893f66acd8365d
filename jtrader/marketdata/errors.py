"""Errors raised while turning venue market data into domain events.

Exceptions::

    DomainError(ValueError)                 (jtrader.domain.errors)
     +-- MalformedMessage   one venue message or file row that cannot become an event:
                            bad JSON, a truncated line, a NaN/negative/non-numeric or
                            off-tick price, an unknown event kind or symbol. It names
                            the line and what was wrong; the caller counts it and goes on.
"""

from __future__ import annotations

from jtrader.domain.errors import DomainError

__all__ = ["MalformedMessage"]


class MalformedMessage(DomainError):
    """A venue message or row that cannot be turned into an event.

    ``reason`` says what was wrong, ``line_no`` (1-based, or None) and
    ``source`` (a file name, or "") say where. ``str()`` gives
    ``"<source>:<line_no>: <reason>"`` with the known parts only.

    Example::

        >>> str(MalformedMessage("trade price 'NaN' is not a decimal number", line_no=7, source="btcusdt.gz"))
        "btcusdt.gz:7: trade price 'NaN' is not a decimal number"
    """

    def __init__(self, reason: str, line_no: int | None = None, source: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.line_no = line_no
        self.source = source

    def __str__(self) -> str:
        where = ":".join(part for part in (self.source, "" if self.line_no is None else str(self.line_no)) if part)
        return f"{where}: {self.reason}" if where else self.reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.reason, self.line_no, self.source))
