"""Compare the recorded outcomes of the reference suite on both packages.

python compare.py OUT_DIR VERSION... --backends redis memory acl

For each suite and backend: how many tests were left out as private, how many
pass on the reference, and how many of those pass on ours; the misses are
written to OUT_DIR/VERSION-BACKEND-misses.txt with the first line of their error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(path: Path) -> dict[str, dict[str, str]]:
    outcomes: dict[str, dict[str, str]] = {}
    if not path.exists():
        return outcomes
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        previous = outcomes.get(record["nodeid"])
        if previous and previous["outcome"] in ("failed", "error"):
            continue
        outcomes[record["nodeid"]] = record
    return outcomes


def first_error_line(record: dict[str, str]) -> str:
    message = record.get("message", "")
    for line in reversed(message.splitlines()):
        if line.startswith("E "):
            return line[1:].strip()[:160]
    return (message.strip().splitlines() or [record["outcome"]])[-1][:160]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("versions", nargs="+")
    parser.add_argument("--backends", nargs="+", default=["redis", "memory", "acl"])
    args = parser.parse_args()
    print(
        f"{'suite':8} {'backend':7} {'private':>7} {'ref pass':>8} {'ours':>6} {'rate':>7}"
    )
    for version in args.versions:
        for backend in args.backends:
            ref = load(args.out / f"{version}-{backend}-ref.jsonl")
            ours = load(args.out / f"{version}-{backend}-ours.jsonl")
            if not ref and not ours:
                continue
            # Left out in either run (the rules may have grown between runs).
            excluded = {
                n
                for run in (ref, ours)
                for n, r in run.items()
                if r["outcome"] == "excluded"
            }
            excluded_files = {n for n in excluded if "::" not in n}
            ref_passed = {
                n
                for n, r in ref.items()
                if r["outcome"] == "passed"
                and n not in excluded
                and n.split("::")[0] not in excluded_files
            }
            ours_passed = {n for n, r in ours.items() if r["outcome"] == "passed"}
            both = ref_passed & ours_passed
            rate = 100.0 * len(both) / len(ref_passed) if ref_passed else 0.0
            print(
                f"{version:8} {backend:7} {len(excluded):7} {len(ref_passed):8} "
                f"{len(both):6} {rate:6.1f}%"
            )
            misses = sorted(ref_passed - ours_passed)
            with open(
                args.out / f"{version}-{backend}-misses.txt", "w", encoding="utf-8"
            ) as f:
                for nodeid in misses:
                    record = ours.get(nodeid, {"outcome": "not run", "nodeid": nodeid})
                    f.write(
                        f"{nodeid}\t{record['outcome']}\t{first_error_line(record)}\n"
                    )
            with open(args.out / f"{version}-excluded.txt", "w", encoding="utf-8") as f:
                for nodeid in sorted(excluded):
                    record = ref.get(nodeid) or ours.get(nodeid) or {}
                    f.write(f"{nodeid}\t{record.get('reason', '')}\n")


if __name__ == "__main__":
    main()
