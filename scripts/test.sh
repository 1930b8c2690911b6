#!/usr/bin/env bash
# Install what the tests need (redis-server from Debian when missing, the package
# with its test extras in .venv) and run the whole suite, then lint and type-check.
# The chaos suite (tests/chaos) is not part of it: scripts/chaos.sh runs that.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# Headless Chromium and its WebDriver for the dashboard's browser test (tests/web):
# Debian's packages, never a downloaded browser.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "chromium or chromedriver not found: installing them from Debian packages"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
    || echo "could not install chromium: the browser test will be skipped"
fi

.venv/bin/python -m pytest -n 2 -q -p no:cacheprovider "$@"
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pyright --pythonpath .venv/bin/python src
