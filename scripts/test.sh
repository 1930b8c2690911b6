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

# The Django tests again under Django 6 (docket.contrib.django on django.tasks),
# which needs Python 3.12+: in .venv-django6, made from the first python3.12 or
# python3.13 found ($DJANGO6_PYTHON, the PATH, then pyenv's versions). The main
# run above covers Django 5.2 with the django-tasks backport. Only for the whole
# suite (no arguments).
django6_python() {
  local candidate
  for candidate in "${DJANGO6_PYTHON:-}" python3.12 python3.13; do
    # (a pyenv shim is on the PATH even when it cannot run: try each one)
    if [ -n "$candidate" ] && "$candidate" -c "" >/dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  if command -v pyenv >/dev/null 2>&1; then root="$(pyenv root)"; fi
  for candidate in "$root"/versions/3.12.*/bin/python3.12 "$root"/versions/3.13.*/bin/python3.13; do
    if [ -x "$candidate" ] && "$candidate" -c "" >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
}
if [ "$#" -eq 0 ]; then
  DJANGO6="$(django6_python || true)"
  if [ -z "$DJANGO6" ]; then
    echo "Django 6 tests SKIPPED: no Python 3.12+ here (Django 6 needs it);" \
      "set DJANGO6_PYTHON to one to run them"
  else
    if [ ! -x .venv-django6/bin/python ]; then
      "$DJANGO6" -m venv .venv-django6
    fi
    .venv-django6/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv-django6/bin/python -m pip install -q -e ".[test]"
    .venv-django6/bin/python -m pytest -q -p no:cacheprovider tests/contrib/django
  fi
fi
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pyright --pythonpath .venv/bin/python src
