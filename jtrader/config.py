"""Typed, frozen settings for every jtrader entry point.

Settings are read, in rising priority, from the embedded defaults, an
optional TOML file (``jtrader.toml`` in the working directory, or the file
named by ``JTRADER_CONFIG``) and ``JTRADER_*`` environment variables. They are
built once at an entry point and passed down.

Exceptions::

    SettingsError(ValueError)   an unknown key or a bad value; the message names
                                the key, the value given and what is expected
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "load_settings", "read_config_file", "ENV_PREFIX"]

ENV_PREFIX = "JTRADER_"
# Environment variables under the prefix that are not settings of the platform.
_RESERVED_ENV = {"JTRADER_CONFIG"}
_RESERVED_ENV_PREFIXES = ("JTRADER_TEST_",)


class SettingsError(ValueError):
    """A setting is unknown or has a bad value; the message says which and what to do."""


class Settings(BaseSettings):
    """The platform's settings; relative paths resolve against ``root``.

    Example::

        >>> s = load_settings(env={}, toml_path=None)
        >>> s.spark_master
        'local[2]'
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    root: Path = Field(default_factory=Path.cwd, description="directory relative paths resolve against")
    var_dir: Path = Field(Path("var"), description="working files: databases, lake, reports, bench results")
    db_url: str = Field("sqlite:///var/jtrader.db", description="SQLAlchemy URL of the SQL store")
    lake_path: Path = Field(Path("var/lake"), description="root of the Parquet lake")
    mlflow_tracking_uri: str = Field("sqlite:///var/mlflow.db", description="MLflow tracking and registry URI")
    spark_master: str = Field("local[2]", description="Spark master URL")
    data_path: Path = Field(Path("../shared/data"), description="the sample market data")
    mongo_uri: SecretStr | None = Field(None, description="MongoDB URI; the Mongo store is used only when set")
    mongo_database: str = Field("jtrader", description="MongoDB database name")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("db_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        if not (value.startswith("sqlite") or value.startswith("postgresql")):
            raise ValueError("expected a SQLAlchemy URL starting with 'sqlite' or 'postgresql'")
        return value

    @field_validator("spark_master")
    @classmethod
    def _check_spark_master(cls, value: str) -> str:
        if not value.startswith(("local", "spark://", "yarn", "k8s://")):
            raise ValueError("expected 'local[N]', 'spark://host:port', 'yarn' or 'k8s://...'")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only explicit values: load_settings merges env and TOML itself so that
        # it can name the offending key in errors.
        return (init_settings,)

    def resolve(self, path: Path) -> Path:
        """Return ``path`` made absolute against ``root``."""
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def lake_dir(self) -> Path:
        return self.resolve(self.lake_path)

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.data_path)

    @property
    def var_path(self) -> Path:
        return self.resolve(self.var_dir)

    @property
    def resolved_db_url(self) -> str:
        """The SQL URL with a relative SQLite path made absolute against ``root``."""
        return _resolve_sqlite_url(self.db_url, self.root)

    @property
    def resolved_mlflow_uri(self) -> str:
        return _resolve_sqlite_url(self.mlflow_tracking_uri, self.root)


def _resolve_sqlite_url(url: str, root: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str((root / url[len(prefix) :]).resolve())
    return url


_FIELDS = set(Settings.model_fields)


def _from_env(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Map field name -> (source key, raw value) for every JTRADER_* variable."""
    found: dict[str, tuple[str, str]] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in _RESERVED_ENV or key.startswith(_RESERVED_ENV_PREFIXES):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in _FIELDS:
            raise SettingsError(
                f"unknown setting {key}={value!r}: expected one of "
                f"{', '.join(ENV_PREFIX + f.upper() for f in sorted(_FIELDS))}; "
                "unset it or fix its name"
            )
        found[name] = (key, value)
    return found


def _from_toml(path: Path) -> dict[str, tuple[str, Any]]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist: create it or unset JTRADER_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML ({exc}): fix the syntax") from None
    section = data.get("jtrader", data)
    found: dict[str, tuple[str, Any]] = {}
    for name, value in section.items():
        if name not in _FIELDS:
            raise SettingsError(
                f"unknown setting {name!r} = {value!r} in {path}: expected one of {', '.join(sorted(_FIELDS))}"
            )
        found[name] = (f"{name} in {path}", value)
    return found


def load_settings(
    env: dict[str, str] | None = None,
    toml_path: Path | str | None = "auto",
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, TOML, environment and ``overrides``, in rising priority.

    ``toml_path="auto"`` reads ``JTRADER_CONFIG`` or ``./jtrader.toml`` if present;
    ``None`` reads no file. Raises :class:`SettingsError` naming the bad key.
    """
    env = dict(os.environ) if env is None else env
    if toml_path == "auto":
        configured = env.get("JTRADER_CONFIG")
        candidate = Path(configured) if configured else Path("jtrader.toml")
        toml_path = candidate if (configured or candidate.exists()) else None
    sources: dict[str, tuple[str, Any]] = {}
    if toml_path is not None:
        sources.update(_from_toml(Path(toml_path)))
    sources.update(_from_env(env))
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise SettingsError(f"unknown setting {name!r}: expected one of {', '.join(sorted(_FIELDS))}")
        sources[name] = (name, value)
    values = {name: value for name, (_, value) in sources.items()}
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        key, given = sources.get(name, (name, values.get(name)))
        shown = "<secret>" if name == "mongo_uri" else repr(given)
        raise SettingsError(f"bad setting {key}={shown}: {err['msg']}") from None


def read_config_file(path: Path | str, what: str, error: type[ValueError]) -> dict[str, Any]:
    """Parse a TOML config file (or ``.json``, for generated ones); raise ``error`` naming ``what`` and the fix."""
    path = Path(path)
    kind = "JSON" if path.suffix == ".json" else "TOML"
    try:
        text = path.read_text()
        data = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist: pass --config with a TOML file") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} {path} is not valid {kind} ({exc}): fix the syntax") from None
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a table of settings, not {type(data).__name__}")
    return data
