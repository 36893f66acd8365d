#!/usr/bin/env bash
# The whole suite: linters, then pytest (Postgres-backed tests start their own cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/lint.sh
.venv/bin/pytest "$@"
