#!/usr/bin/env bash
# Install what the tests need (redis-server from Debian when missing, the package
# with its test extras in .venv) and run the whole suite, then lint and type-check.
# The chaos suite (tests/chaos) is not part of it: scripts/chaos.sh runs that.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

.venv/bin/python -m pytest -n 2 -q -p no:cacheprovider "$@"
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pyright --pythonpath .venv/bin/python src
