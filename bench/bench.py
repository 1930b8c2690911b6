"""Benchmark the ``docket`` importable in this interpreter against a local Redis.

Measures no-op task throughput (enqueue, drain), add-to-start latency, scheduled
start delay, and Redis commands, round trips and CPU per task. With ``--compare
PYTHON`` it runs this same script under another interpreter (for example a venv
with ``pydocket`` from PyPI) against the same redis-server and prints both side
by side. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from importlib import metadata
from typing import Any

from _measure import Bench, Probe

RATE_PHASES = [
    ("enqueue_seq", "enqueue, sequential awaits"),
    ("enqueue_gather", "enqueue, gather in chunks"),
    ("enqueue_gather_best", "enqueue, gather in chunks [best]"),
    ("add_many", "enqueue, add_many in chunks"),
    ("drain_c10", "drain c=10 [defaults]"),
    ("drain_c100", "drain c=100 [defaults]"),
    ("drain_c10_best", "drain c=10 [best]"),
    ("drain_c100_best", "drain c=100 [best]"),
    ("enqueue_gather_signed", "enqueue, gather in chunks [signed]"),
    ("drain_c100_signed", "drain c=100 [defaults, signed]"),
    ("drain_c10_pooled", "drain c=10 [a warm isolated pool]"),
    ("drain_c100_pooled", "drain c=100 [a warm isolated pool]"),
    ("drain_c10_depends", "drain c=10 [Depends() no-op, in the worker]"),
    ("drain_c100_depends", "drain c=100 [Depends() no-op, in the worker]"),
    ("drain_c10_isolated", "drain c=10 [Isolated() no-op]"),
    ("drain_c100_isolated", "drain c=100 [Isolated() no-op]"),
    ("drain_c100_prio", "drain c=100 [priorities 3, 5, 7]"),
]
RATE_METRICS = [
    ("rate", "tasks/s", True, "{:,.0f}"),
    ("cmds_per_task", "redis cmds/task", False, "{:.2f}"),
    ("reads_per_task", "round trips/task", False, "{:.2f}"),
    ("cpu_us_per_task", "client CPU us/task", False, "{:.0f}"),
    ("redis_cpu_us_per_task", "redis CPU us/task", False, "{:.1f}"),
    ("child_cpu_us_per_task", "child CPU us/task", False, "{:.0f}"),
]
LATENCY_PHASES = [
    ("latency", "add-to-start [defaults]"),
    ("latency_best", "add-to-start [best]"),
    ("scheduled", "scheduled start delay [defaults]"),
    ("scheduled_best", "scheduled start delay [best]"),
    ("late_p9", "priority 9 behind 2,000 queued, add-to-start"),
]
LATENCY_METRICS = [
    ("p50_ms", "p50 ms", False, "{:.1f}"),
    ("p99_ms", "p99 ms", False, "{:.1f}"),
    ("max_ms", "max ms", False, "{:.1f}"),
]
FORWARDED = [
    "tasks",
    "drain_tasks",
    "chunk",
    "time_cap",
    "execution_ttl",
    "latency_tasks",
    "latency_rate",
    "sched_tasks",
    "sched_rate",
    "processes",
    "process_concurrency",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the README)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="redis://HOST:PORT/DB; default: start a server")
    p.add_argument("--tasks", type=int, default=20000, help="N for enqueue phases")
    p.add_argument("--drain-tasks", type=int, help="N for drain phases (default N)")
    p.add_argument("--chunk", type=int, default=1000, help="gather chunk size")
    p.add_argument(
        "--time-cap",
        type=float,
        default=60.0,
        help="seconds after which an enqueue or drain phase stops (rate so far)",
    )
    p.add_argument("--execution-ttl", type=float, help="Docket execution_ttl, s")
    p.add_argument("--latency-tasks", type=int, default=200)
    p.add_argument("--latency-rate", type=float, default=100.0, help="tasks/s")
    p.add_argument("--sched-tasks", type=int, default=200)
    p.add_argument("--sched-rate", type=float, default=20.0, help="adds/s")
    p.add_argument(
        "--processes",
        type=int,
        default=2,
        help="worker processes of the drain_pN phase (drain_p1 runs too)",
    )
    p.add_argument(
        "--process-concurrency",
        type=int,
        default=10,
        help="concurrency of each worker process in the drain_p* phases",
    )
    p.add_argument(
        "--histogram",
        action="store_true",
        help="print a histogram of each latency phase's delays",
    )
    p.add_argument(
        "--best-settings",
        action="store_true",
        help="also run gather and latency phases with best settings",
    )
    p.add_argument(
        "--signing",
        action="store_true",
        help="also run gather and drain c=100 with signing keys (ours only), and "
        "the unsigned phases with keys explicitly off",
    )
    p.add_argument("--only", help="comma-separated phase ids to run")
    p.add_argument("--label", help="name of this implementation in the output")
    p.add_argument("--compare", metavar="PYTHON", help="another venv's python")
    p.add_argument("--compare-label", help="name of the compared implementation")
    p.add_argument("--json", action="store_true", help="print JSON, not a table")
    p.add_argument("--output", help="also write the JSON result to this file")
    o = p.parse_args(argv)
    if o.drain_tasks is None:
        o.drain_tasks = o.tasks
    o.only = set(o.only.split(",")) if o.only else set()
    return o


# ---- redis-server --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """Start a throw-away redis-server on a free 127.0.0.1 port."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    for _ in range(5):
        port = _free_port()
        args = [exe, "--port", str(port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if _pings(port):
                return proc, f"redis://127.0.0.1:{port}/0"
            time.sleep(0.05)
        stop_redis(proc)
    raise RuntimeError(f"could not start {exe}")


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    """Stop the redis-server we started (by its pid)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- one implementation ----------------------------------------------------------


def describe(o: argparse.Namespace, redis_version: str | None) -> dict[str, Any]:
    """Which docket, redis-py and server this run measured."""
    import docket

    dists = metadata.packages_distributions().get("docket") or []
    names = [f"{d} {metadata.version(d)}" for d in dists]
    label = o.label or (names[0] if names else f"docket {docket.__version__}")
    return {
        "label": label,
        "docket_file": docket.__file__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "redis_py": metadata.version("redis"),
        "hiredis": importlib.util.find_spec("hiredis") is not None,
        "redis_server": redis_version,
        "options": {k: getattr(o, k) for k in FORWARDED + ["best_settings", "signing"]},
    }


def isolated_phases(bench: Bench) -> list[tuple[str, Any]]:
    """The isolated-task drains (bench/_isolated.py) and the priority phases
    (bench/_priorities.py), only imported where the implementation has Isolated
    (pydocket has not)."""
    import _isolated
    import _priorities

    return _isolated.phases(bench) + _priorities.phases(bench)


async def measure(o: argparse.Namespace) -> dict[str, Any]:
    """Run every phase in this process."""

    def progress(text: str) -> None:
        print(f"[{meta['label']}] {text}", file=sys.stderr, flush=True)

    probe = Probe(o.url)
    try:
        version = (await probe.snapshot())["version"]
        try:
            meta = describe(o, version)
        except Exception:  # the implementation does not even import
            label = o.label or f"docket under {sys.executable}"
            meta = {"label": label, "executable": sys.executable}
            return {"meta": meta, "error": "\n" + traceback.format_exc()}
        phases = await Bench(o, probe, isolated_phases).run(progress)
    finally:
        await probe.close()
    return {"meta": meta, "phases": phases}


def run_child(python: str, o: argparse.Namespace, label: str | None) -> dict[str, Any]:
    """Run this script under ``python`` against the same server; return its JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [python, os.path.abspath(__file__), "--url", o.url, "--output", out]
        for key in FORWARDED:
            if getattr(o, key) is not None:
                cmd += [f"--{key.replace('_', '-')}", str(getattr(o, key))]
        cmd += ["--best-settings"] if o.best_settings else []
        cmd += ["--signing"] if o.signing else []
        cmd += ["--only", ",".join(sorted(o.only))] if o.only else []
        cmd += ["--label", label] if label else []
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
        note = None
        env = dict(os.environ)
        if python != sys.executable:  # another interpreter: not our import path
            env.pop("PYTHONPATH", None)
        try:
            code = subprocess.run(
                cmd, stdout=sys.stderr, timeout=3600, env=env
            ).returncode
        except subprocess.TimeoutExpired:
            code, note = -9, "killed after 3600 s"
        if not os.path.exists(out):
            return {"meta": {"label": label or python}, "error": f"exit {code}"}
        with open(out) as f:
            result = json.load(f)
        if code or note:
            result["meta"]["exit"] = note or f"exit status {code}"
        return result


# ---- report ------------------------------------------------------------------------


def _cell(run: dict[str, Any], phase: str, metric: str, fmt: str) -> tuple[str, Any]:
    data = run.get("phases", {}).get(phase)
    if data is None:
        return "-", None
    if "error" in data:
        return "ERROR", None
    value = data.get(metric)
    if value is None:
        return "-", None
    mark = "*" if data.get("capped") and metric in ("rate", "cpu_us_per_task") else ""
    return fmt.format(value) + mark, value


def _rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    rows: list[list[str]] = []
    found = {phase for run in runs for phase in run.get("phases", {})}
    processes = [
        (
            phase,
            "drain {} x c={} [defaults]".format(*phase[len("drain_p") :].split("_c")),
        )
        for phase in sorted(p for p in found if p.startswith("drain_p"))
    ]
    groups = [
        (RATE_PHASES + processes, RATE_METRICS),
        (LATENCY_PHASES, LATENCY_METRICS),
    ]
    for phases, metrics in groups:
        for phase, title in phases:
            if not any(phase in r.get("phases", {}) for r in runs):
                continue
            for i, (metric, unit, higher, fmt) in enumerate(metrics):
                cells = [_cell(r, phase, metric, fmt) for r in runs]
                row = [title if i == 0 else "", unit] + [c[0] for c in cells]
                rows.append(row + _ratio([c[1] for c in cells], higher))
    for name, phases in (
        ("add only (sequential enqueue)", ["enqueue_seq"]),
        ("run only (drain c=10, defaults)", ["drain_c10"]),
        ("total add + run", ["enqueue_seq", "drain_c10"]),
    ):
        values = [_sum_cmds(r, phases) for r in runs]
        cells = ["-" if v is None else f"{v:.2f}" for v in values]
        rows.append(["redis cmds/task: " + name, ""] + cells + _ratio(values, False))
    for name, phase in (
        ("producer, sequential add", "enqueue_seq"),
        ("producer, add_many", "add_many"),
        ("worker, drain c=10", "drain_c10"),
        ("worker, drain c=100", "drain_c100"),
    ):
        values = [_sum_cmds(r, [phase], "cpu_us_per_task") for r in runs]
        cells = ["-" if v is None else f"{v:.0f}" for v in values]
        rows.append(["client CPU us/task: " + name, ""] + cells + _ratio(values, False))
    return rows


def _sum_cmds(
    run: dict[str, Any], phases: list[str], metric: str = "cmds_per_task"
) -> float | None:
    values = [run.get("phases", {}).get(p, {}).get(metric) for p in phases]
    return None if None in values else sum(values)


def _ratio(values: list[Any], higher: bool) -> list[str]:
    if len(values) < 2:
        return []
    a, b = values
    if a is None or b is None or not b:
        return ["", ""]
    better = "A" if (a > b) == higher else "B"
    return [f"{a / b:.2f}", "=" if abs(a / b - 1) < 0.005 else better]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _notes(run: dict[str, Any]) -> list[str]:
    notes = []
    meta, label = run.get("meta", {}), run.get("meta", {}).get("label", "?")
    if "error" in run:
        notes.append(f"[{label}] did not run: {run['error']}")
    if meta.get("exit"):
        notes.append(f"[{label}] process: {meta['exit']}")
    if meta.get("threads_left"):
        notes.append(f"[{label}] threads alive at exit: {meta['threads_left']}")
    for phase, data in run.get("phases", {}).items():
        done, asked = data.get("completed"), data.get("requested")
        if data.get("capped"):
            notes.append(
                f"[{label}] {phase}: capped by --time-cap after {data['seconds']:.1f} s,"
                f" {data.get('measured', done):,} of {asked:,} tasks (rate over those)"
            )
        elif "error" not in data and done is not None and done != asked:
            notes.append(f"[{label}] {phase}: {done:,} of {asked:,} tasks ran")
    return notes


def _breakdown(run: dict[str, Any]) -> list[str]:
    lines = []
    for phase in ("enqueue_seq", "drain_c10"):
        data = run.get("phases", {}).get(phase, {}).get("breakdown")
        if data:
            top = sorted(data.items(), key=lambda kv: -kv[1])[:14]
            text = ", ".join(f"{k} {v:.2f}" for k, v in top)
            lines.append(f"[{run['meta']['label']}] {phase} per task: {text}")
    return lines


def _histograms(run: dict[str, Any]) -> list[str]:
    lines = []
    for phase, data in run.get("phases", {}).items():
        counts = data.get("histogram")
        if not counts:
            continue
        label = run.get("meta", {}).get("label", "?")
        text = ", ".join(f"{k} ms: {v}" for k, v in counts.items() if v)
        lines.append(f"[{label}] {phase} delays: {text}")
        worst = ", ".join(f"{d} ms at {t} s" for d, t in data.get("worst", []))
        lines.append(f"[{label}] {phase} slowest: {worst}")
    return lines


def report(runs: list[dict[str, Any]], histograms: bool = False) -> str:
    """The human-readable results table, notes, errors and command breakdown."""
    labels = [r.get("meta", {}).get("label", "?") for r in runs]
    heads = [f"{'AB'[i]}: {label}" for i, label in enumerate(labels)]
    head = ["phase", "metric"] + (heads if len(runs) > 1 else labels)
    head += ["A/B", "better"] if len(runs) > 1 else []
    out = []
    for run in runs:
        m = run.get("meta", {})
        out.append(
            f"{m.get('label')}: python {m.get('python')}, redis-py {m.get('redis_py')}"
            f" (hiredis {m.get('hiredis')}), redis-server {m.get('redis_server')},"
            f" {m.get('docket_file')}"
        )
    options = runs[0].get("meta", {}).get("options", {})
    out += [f"options: {options}", "", _table([head] + _rows(runs)), ""]
    out.append("* capped by --time-cap. round trips = server read events.")
    for run in runs:
        out += _notes(run) + _breakdown(run)
        out += _histograms(run) if histograms else []
    for run in runs:
        for phase, data in run.get("phases", {}).items():
            if "error" in data:
                out += ["", f"[{run['meta']['label']}] {phase} ERROR:", data["error"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point: set up the server, run one or both sides, print the report."""
    o = parse_args(argv)
    server = None
    try:
        if o.url is None:
            server, o.url = start_redis()
            print(f"started redis-server pid {server.pid} at {o.url}", file=sys.stderr)
        if o.compare:
            runs = [
                run_child(sys.executable, o, o.label),
                run_child(o.compare, o, o.compare_label),
            ]
        else:
            runs = [asyncio.run(measure(o))]
            main_thread = threading.main_thread()
            runs[0]["meta"]["threads_left"] = [
                t.name
                for t in threading.enumerate()
                if not t.daemon and t is not main_thread
            ]
    finally:
        if server is not None:
            stop_redis(server)
    result: dict[str, Any] = runs[0] if len(runs) == 1 else {"runs": runs}
    if o.output:
        with open(o.output, "w") as f:
            json.dump(result, f, indent=2)
    if o.output and not o.compare:
        return 0
    text = json.dumps(result, indent=2) if o.json else report(runs, o.histogram)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
