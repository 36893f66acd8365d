"""Venue API credentials for order entry: from the environment or a secrets file, never logged.

Where a key comes from, in priority order:

1. the venue's environment variables (``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` for the three
   Binance markets, ``HTX_API_KEY`` / ``HTX_API_SECRET`` for HTX (Huobi), ``BITMEX_API_KEY`` /
   ``BITMEX_API_SECRET``); they are deliberately not ``JTRADER_*`` settings;
2. a secrets file (TOML, or JSON for generated files) named by ``secrets_file`` (the run config's
   ``live.secrets_file``) or the ``VENUE_SECRETS_FILE`` environment variable, one table per
   venue family::

       [binance]
       api_key = "..."
       api_secret = "..."

       [htx]
       api_key = "..."
       api_secret = "..."

:class:`ApiCredentials` never shows the key or the secret in ``repr``/``str``.
:func:`protect` registers a pair with the process-wide :class:`SecretRedactor`, a
logging filter on the loggers that see request URLs and headers (ccxt's, urllib3's and
the gateways'), so a DEBUG log of a full order flow carries neither; use
:func:`redact` on any text built from a venue exception before it leaves the gateway.

Exceptions::

    CredentialsError(ValueError)      a secrets file that is missing, unreadable or malformed
     +-- MissingCredentials           no key/secret for a venue; names the variables to set
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

from jtrader.domain import Venue

__all__ = [
    "ApiCredentials",
    "CredentialsError",
    "MissingCredentials",
    "SECRETS_FILE_ENV",
    "SecretRedactor",
    "credential_env_names",
    "load_credentials",
    "protect",
    "redact",
]

log = logging.getLogger("jtrader.gateways.credentials")

SECRETS_FILE_ENV = "VENUE_SECRETS_FILE"
REDACTED = "<redacted>"

# venue -> (secrets-file table, key variable, secret variable)
_SOURCES: dict[Venue, tuple[str, str, str]] = {
    Venue.BINANCE: ("binance", "BINANCE_API_KEY", "BINANCE_API_SECRET"),
    Venue.BINANCE_USDM: ("binance", "BINANCE_API_KEY", "BINANCE_API_SECRET"),
    Venue.BINANCE_COINM: ("binance", "BINANCE_API_KEY", "BINANCE_API_SECRET"),
    Venue.HUOBI: ("htx", "HTX_API_KEY", "HTX_API_SECRET"),
    Venue.BITMEX: ("bitmex", "BITMEX_API_KEY", "BITMEX_API_SECRET"),
}

# Loggers whose records carry request URLs or headers: ccxt's own (headers hold Binance's key),
# urllib3's (URLs hold HTX's AccessKeyId) and the execution gateway's. A logger's filters see only
# the records created on that very logger, so each is named.
_GUARDED_LOGGERS = (
    "ccxt.base.exchange",
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "jtrader.gateways.execution",
)


class CredentialsError(ValueError):
    """Credentials cannot be read; the message names the file or variable and what to do."""


class MissingCredentials(CredentialsError):
    """No API key/secret for a venue."""


@dataclass(frozen=True)
class ApiCredentials:
    """An API key pair for one venue; ``repr``/``str`` show neither part.

    Example::

        >>> ApiCredentials(Venue.BINANCE, "my-key", "my-secret", "env")
        ApiCredentials(venue=binance, key=<redacted>, secret=<redacted>, source=env)
    """

    venue: Venue
    key: str = field(repr=False)
    secret: str = field(repr=False)
    source: str = "env"

    def __post_init__(self) -> None:
        if not self.key or not self.secret:
            raise MissingCredentials(f"{self.venue.value}: the API key and secret must both be non-empty")

    def __repr__(self) -> str:
        return f"ApiCredentials(venue={self.venue.value}, key={REDACTED}, secret={REDACTED}, source={self.source})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ApiCredentials are not picklable: pass them within the process only")


def credential_env_names(venue: Venue) -> tuple[str, str]:
    """The environment variables holding ``venue``'s API key and secret."""
    try:
        _, key_var, secret_var = _SOURCES[Venue(venue)]
    except KeyError:
        raise MissingCredentials(f"venue {venue!s} takes no API credentials (no live order entry)") from None
    return key_var, secret_var


def load_credentials(
    venue: Venue, *, env: dict[str, str] | None = None, secrets_file: str | Path | None = None
) -> ApiCredentials:
    """Return ``venue``'s credentials from the environment, else from the secrets file.

    Raises :class:`MissingCredentials` naming the environment variables and the file table to
    set, or :class:`CredentialsError` for a secrets file that cannot be read.
    """
    venue = Venue(venue)
    env = dict(os.environ) if env is None else env
    table, key_var, secret_var = _SOURCES.get(venue, ("", "", ""))
    if not table:
        raise MissingCredentials(f"venue {venue.value!r} takes no API credentials (no live order entry)")
    key, secret = env.get(key_var, "").strip(), env.get(secret_var, "").strip()
    if key and secret:
        return ApiCredentials(venue, key, secret, "env")
    if key or secret:
        missing = secret_var if key else key_var
        raise MissingCredentials(
            f"{venue.value}: {missing} is not set (its pair is): set both {key_var} and {secret_var}"
        )
    path_text = str(secrets_file) if secrets_file else env.get(SECRETS_FILE_ENV, "")
    if path_text:
        data = _read_secrets_file(Path(path_text))
        section = data.get(table)
        if isinstance(section, dict) and section.get("api_key") and section.get("api_secret"):
            return ApiCredentials(venue, str(section["api_key"]), str(section["api_secret"]), f"file {path_text}")
        raise MissingCredentials(
            f"{venue.value}: no API credentials: the secrets file {path_text} has no [{table}] table with "
            f"api_key and api_secret, and {key_var} / {secret_var} are not set"
        )
    raise MissingCredentials(
        f"{venue.value}: no API credentials: set {key_var} and {secret_var} in the environment, "
        f"or name a secrets file (live.secrets_file in the run config, or {SECRETS_FILE_ENV}) "
        f"with a [{table}] table holding api_key and api_secret"
    )


def _read_secrets_file(path: Path) -> dict[str, object]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CredentialsError(f"secrets file {path} does not exist: create it or fix the path") from None
    except OSError as exc:
        raise CredentialsError(
            f"secrets file {path} cannot be read ({type(exc).__name__}): check its permissions"
        ) from None
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("secrets file %s is readable by group or others: chmod 600 it", path)
    except OSError:
        pass
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        # the parser's message may quote the line, i.e. a secret: never include it
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise CredentialsError(f"secrets file {path} is not valid {kind}: fix its syntax") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"secrets file {path}: expected a table per venue, got a {type(data).__name__}")
    return data


class SecretRedactor(logging.Filter):
    """A logging filter that replaces every registered secret (and its URL-encoded forms) in a record.

    Installed once on the loggers that see request URLs and headers; the process's
    credentials register themselves with :func:`protect`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, *values: str) -> None:
        forms = {form for value in values if value for form in (value, quote(value, safe=""), quote_plus(value))}
        with self._lock:
            # longest first, so a secret that contains another is replaced whole
            self._secrets = tuple(sorted(set(self._secrets) | forms, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it, unredacted args dropped
            record.msg, record.args = "<unformattable log record>", None
            return True
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_REDACTOR = SecretRedactor()
_installed = False
_install_lock = threading.Lock()


def protect(credentials: ApiCredentials) -> None:
    """Keep ``credentials`` out of every log record of the guarded loggers from now on (idempotent)."""
    global _installed
    _REDACTOR.add(credentials.key, credentials.secret)
    with _install_lock:
        if not _installed:
            for name in _GUARDED_LOGGERS:
                logging.getLogger(name).addFilter(_REDACTOR)
            _installed = True


def redact(text: str) -> str:
    """``text`` with every protected key and secret replaced by ``<redacted>``."""
    return _REDACTOR.redact(text)
