#!/usr/bin/env bash
# The chaos suite (tests/chaos): real faults (redis-server restarts, CLIENT KILL,
# CLIENT PAUSE, maxmemory, kill -9, poison entries, a task that exits its process)
# against real worker processes, one line per scenario: tasks lost, run twice,
# recovery time. Fails when any scenario misses the bar.
#
#   bash scripts/chaos.sh [short|long] [pytest arguments...]
#
# short (the default, what CI runs) takes a few minutes on 2 cores; long uses more
# tasks and longer outages. Installs the same things as scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${1:-short}"
case "$PROFILE" in
  short|long) ;;
  *) echo "usage: scripts/chaos.sh [short|long] [pytest arguments...]" >&2; exit 2 ;;
esac
shift $(( $# > 0 ? 1 : 0 ))

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# One scenario at a time (no -n): the scenarios measure time.
DOCKET_CHAOS="$PROFILE" exec .venv/bin/python -m pytest tests/chaos -q -p no:cacheprovider "$@"
