#!/usr/bin/env bash
# Install what the tests need (redis-server from Debian when missing, the package
# with its test extras in .venv) and run the whole suite, then lint and type-check.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server (its binary also runs Sentinels and cluster nodes; redis-cli comes
# with it) and openssl (the TLS tests make a throwaway CA with it).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1 \
  || ! command -v openssl >/dev/null 2>&1; then
  echo "redis-server, redis-cli or openssl not found: installing them from Debian packages"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools openssl >/dev/null
fi

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

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[test]"

.venv/bin/python -m pytest -n 2 -q -p no:cacheprovider "$@"
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pyright --pythonpath .venv/bin/python src
