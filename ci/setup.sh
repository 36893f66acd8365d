#!/usr/bin/env bash
# Create or update .venv with the locked dependency set, and install the system
# packages the tests need (PostgreSQL 15 server, Java for Spark) if missing.
# Idempotent: a second run with an unchanged lock does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

# PostgreSQL server binaries for the throwaway test cluster (tests/harness/postgres.py).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing the PostgreSQL server (for the test cluster)"
  apt_install postgresql
fi
# Java for Spark in local mode.
if ! command -v java >/dev/null; then
  echo "setup: installing a Java runtime (for Spark)"
  apt_install openjdk-17-jre-headless
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.jtrader-installed
want=$(cat requirements.lock pyproject.toml ci/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing the locked dependency set into .venv (about a minute on a fresh machine)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip uv 2>&1 | grep -v "is ignored" || true
  # Byte-compile at install: with PYTHONDONTWRITEBYTECODE set (as on these machines) every desk
  # process and test subprocess would otherwise compile ~700 modules from source at start-up.
  .venv/bin/uv pip sync -q --compile-bytecode --python .venv/bin/python requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  echo "$want" > "$stamp"
fi
