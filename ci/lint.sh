#!/usr/bin/env bash
# Linters configured in pyproject.toml: ruff (lint + format check) and mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
