"""CURVE keys of a desk run: generated once into ``keys_dir``, reused after.

One server key pair (the OMS and venue command servers) and one client key
pair (strategy hosts, the OMS as a venue client, ``jtrader ctl``), with the
client's public key in ``allowed_clients/``. Live deployments give each peer
its own pair with ``jtrader keys`` and copy public keys only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jtrader.bus.auth import authorise_client, generate_keys

__all__ = ["RunKeys", "ensure_keys"]


@dataclass(frozen=True)
class RunKeys:
    server_public: Path
    server_secret: Path
    client_public: Path
    client_secret: Path
    allowed_clients: Path


def ensure_keys(directory: Path) -> RunKeys:
    """Return the run's key files, generating them if any is missing."""
    keys = RunKeys(
        directory / "server.key",
        directory / "server.key_secret",
        directory / "client.key",
        directory / "client.key_secret",
        directory / "allowed_clients",
    )
    if not all(p.exists() for p in (keys.server_public, keys.server_secret, keys.client_public, keys.client_secret)):
        directory.mkdir(parents=True, exist_ok=True)
        generate_keys(directory, overwrite=True)
    if not (keys.allowed_clients / "client.key").exists():
        authorise_client(keys.client_public, keys.allowed_clients)
    return keys
