"""Errors raised by the domain types.

DomainError(ValueError)
 +-- InvalidValue      a number that is NaN, infinite, malformed, negative where it
                       must not be, or finer than allowed
 +-- OffTick           a price or size that is not a whole number of ticks or lots
 +-- UnknownInstrument an instrument id that the registry does not know
"""

from __future__ import annotations

__all__ = ["DomainError", "InvalidValue", "OffTick", "UnknownInstrument"]


class DomainError(ValueError):
    """Base of every domain validation error; the message names the field and the bad value."""


class InvalidValue(DomainError):
    pass


class OffTick(DomainError):
    pass


class UnknownInstrument(DomainError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
