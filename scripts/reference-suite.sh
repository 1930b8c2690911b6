#!/usr/bin/env bash
# Measure how much of pydocket's own test-suite passes against this package.
#
# NOT run by CI: a measurement. For each reference release (default 0.27.2 and
# 0.23.0) it runs the release's public-API tests against our package (installed
# editable in a throwaway venv) and against pydocket itself (the same tests in
# another throwaway venv), on a real redis-server, on memory:// and as a narrow
# ACL user, and prints how many of the tests that pass on the reference pass on
# ours. Nothing of the reference is copied into this repository: its sdist is
# downloaded (or read) under $REFSUITE_DIR (default /tmp/refsd), its tests run
# from there, and results land under $REFSUITE_OUT (default /tmp/refsuite).
#
# Usage: scripts/reference-suite.sh [-s 0.27.2,0.23.0] [-b redis,memory,acl]
#                                   [-i ours,ref] [-n 2] [-p PACKAGE_DIR] [-o OUT_DIR]
#                                   [-- pytest args...]
# (-p: the checkout of ours to measure, default this one; -o: where results go)
#
# How the reference's fixtures are served (scripts/reference_suite/):
#   - its conftest starts Redis through the docker SDK; docker/ here answers
#     those calls by starting a real redis-server on 127.0.0.1 (no daemon here);
#   - backends are chosen as its conftest does, with REDIS_VERSION:
#     7.0 (redis-server), memory (memory://), 7.0-acl (a user limited to the
#     docket's keys and channels, the conftest's own ACL setup);
#   - plugin.py leaves out the tests of the reference's private internals
#     (decided from the test source, identically for both packages), bridges
#     the private names its fixtures import, and records every outcome.
set -euo pipefail

# Everything runs inside main, read whole before it starts: editing this file while
# a measurement runs cannot change what the running one does.
main() {
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
suites="0.27.2,0.23.0"
backends="redis,memory,acl"
impls="ours,ref"
procs=2
package="$repo"
out="${REFSUITE_OUT:-/tmp/refsuite}"
while getopts "s:b:i:n:p:o:" opt; do
  case "$opt" in
    s) suites="$OPTARG" ;;
    b) backends="$OPTARG" ;;
    i) impls="$OPTARG" ;;
    n) procs="$OPTARG" ;;
    p) package="$(cd "$OPTARG" && pwd)" ;;
    o) out="$OPTARG" ;;
    *) sed -n 2,25p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
src="${REFSUITE_DIR:-/tmp/refsd}"
mkdir -p "$src" "$out"
dev_deps=(pytest pytest-asyncio pytest-timeout pytest-xdist opentelemetry-sdk
  opentelemetry-exporter-prometheus exceptiongroup async-timeout packaging coverage)

venv_for() {  # venv_for ours|ref VERSION -> path of a venv ready to run the suite
  local impl="$1" version="$2" venv
  if [ "$impl" = ours ]; then
    venv="$out/venv-ours"
  else
    venv="${REFSUITE_OUT:-/tmp/refsuite}/venv-ref-$version"
  fi
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.ready" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "${dev_deps[@]}" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    if [ "$impl" = ours ]; then
      "$venv/bin/pip" install -q -e "$package[metrics]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    else
      "$venv/bin/pip" install -q "pydocket[metrics]==$version" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    fi
    touch "$venv/.ready"
  elif [ "$impl" = ours ]; then
    "$venv/bin/pip" install -q --no-deps -e "$package" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  fi
  echo "$venv"
}

sdist_for() {  # sdist_for VERSION -> the unpacked sdist (downloaded once)
  local version="$1"
  if [ ! -d "$src/pydocket-$version/tests" ]; then
    (cd "$src" && pip download -q --no-deps --no-binary :all: "pydocket==$version" \
      && tar xzf "pydocket-$version.tar.gz") >&2
  fi
  echo "$src/pydocket-$version"
}

redis_version_for() {
  case "$1" in
    redis) echo 7.0 ;;
    memory) echo memory ;;
    acl) echo 7.0-acl ;;
    *) echo "unknown backend $1" >&2; exit 2 ;;
  esac
}

stop_servers_in() {  # what this run left behind: its redis-servers (a crashed worker
  # leaves its own) and the CLI processes a crashed test left orphaned (by pid)
  local pid
  for pid in $(pgrep -x redis-server || true); do
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
      "$1"/*) kill "$pid" 2>/dev/null || true ;;
    esac
  done
  for pid in $(pgrep -P 1 -f "^$2/bin/python -m docket" || true); do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$1"
}

# Arguments after -- that name test files or node ids replace the whole suite.
targets=(tests)
extra=()
for argument in "$@"; do
  case "$argument" in
    tests/*) targets+=("$argument") ;;
    *) extra+=("$argument") ;;
  esac
done
if [ "${#targets[@]}" -gt 1 ]; then targets=("${targets[@]:1}"); fi
IFS=, read -r -a suite_list <<<"$suites"
IFS=, read -r -a backend_list <<<"$backends"
IFS=, read -r -a impl_list <<<"$impls"
for version in "${suite_list[@]}"; do
  sdist="$(sdist_for "$version")"
  for impl in "${impl_list[@]}"; do
    venv="$(venv_for "$impl" "$version")"
    for backend in "${backend_list[@]}"; do
      results="$out/$version-$backend-$impl.jsonl"
      rm -f "$results"
      rundir="$(mktemp -d "$out/run.XXXXXX")"
      echo "== pydocket $version suite, $backend, $impl ($(date +%H:%M:%S))" >&2
      (
        cd "$sdist"
        PATH="$venv/bin:$PATH" \
        PYTHONPATH="$here/reference_suite${PYTHONPATH:+:$PYTHONPATH}" \
        REDIS_VERSION="$(redis_version_for "$backend")" \
        REFSUITE_RESULTS="$results" \
        REFSUITE_RUNDIR="$rundir" \
        "$venv/bin/python" -m pytest "${targets[@]}" -q -p no:cacheprovider -p plugin \
          -o addopts="" --timeout=30 --import-mode=importlib \
          -n "$procs" -p no:randomly ${extra[@]+"${extra[@]}"} \
          >"$out/$version-$backend-$impl.log" 2>&1 || true
      )
      stop_servers_in "$rundir" "$venv"
      tail -1 "$out/$version-$backend-$impl.log" >&2
    done
  done
done
"$venv/bin/python" "$here/reference_suite/compare.py" "$out" "${suite_list[@]}" \
  --backends "${backend_list[@]}"
}

main "$@"
exit $?
