# Sourced by scripts/test.sh and scripts/chaos.sh (from the repository root):
# install what the tests need (redis-server from Debian when missing, the
# package with its test extras in .venv).

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

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[test]"
