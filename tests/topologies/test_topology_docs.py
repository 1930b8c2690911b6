"""Every example of docs/topologies.md runs against real servers on 127.0.0.1.

The plain-server examples also run in tests/behaviours/test_docs_examples.py; the
ones marked ``<!-- not-run -->`` there (cluster, TLS, ACL) run here, with the page's
host names, ports, passwords and CA path replaced by those of the servers the tests
started.
The Sentinel example runs in tests/topologies/test_topology_sentinel.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests._support import ROOT
from tests._support.cluster import RedisClusterNodes
from tests._support.servers import RedisServer, TlsFiles

PAGE = ROOT / "docs" / "topologies.md"
EXPECTED = re.compile(r"print\(.*\)\s*#\s*(.+)$")


def page_examples() -> list[tuple[int, str, bool]]:
    """(first line, code, marked not-run) of each ```python block of the page."""
    found: list[tuple[int, str, bool]] = []
    lines = PAGE.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() != "```python":
            continue
        end = lines.index("```", index + 1)
        before = [text for text in lines[:index] if text.strip()]
        not_run = bool(before) and before[-1].strip() == "<!-- not-run -->"
        found.append((index + 2, "\n".join(lines[index + 1 : end]) + "\n", not_run))
    return found


def run_example(code: str, replacements: Mapping[str, str], tmp_path: Path) -> str:
    """Run the example as a script after the replacements; its standard output.
    Each ``print(...)  # text`` line's text must appear in the output."""
    for placeholder, real in replacements.items():
        code = code.replace(placeholder, real)
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"--- stdout\n{result.stdout}\n--- {result.stderr}"
    for line in code.splitlines():
        match = EXPECTED.search(line)
        if match:
            assert match.group(1).strip() in result.stdout, result.stdout
    return result.stdout


SERVER_EXAMPLES = [
    (line, code)
    for line, code, not_run in page_examples()
    if not_run and "sentinel-1" not in code
]


def test_the_page_has_examples_for_every_topology():
    codes = "".join(code for _, code, _ in page_examples())
    for scheme in ("redis+cluster://", "rediss+cluster://", "redis+sentinel://",
                   "rediss://", "connection_pool=", "result_storage="):  # fmt: skip
        assert scheme in codes, scheme


@pytest.mark.parametrize(
    ("line", "code"),
    SERVER_EXAMPLES,
    ids=[f"topologies.md:{n}" for n, _ in SERVER_EXAMPLES],
)
def test_example_runs_against_real_servers(
    line: int,
    code: str,
    redis_cluster: RedisClusterNodes,
    secured: RedisServer,
    tls_files: TlsFiles,
    tmp_path: Path,
):
    node = redis_cluster.nodes[0]
    if ":6380" in code and (secured.tls_port is None or node.tls_port is None):
        pytest.skip("this server binary has no TLS support")
    replacements = {
        "cluster-node-1:6379": f"127.0.0.1:{node.port}",
        "cluster-node-1:6380": f"127.0.0.1:{node.tls_port}",
        "redis.prod.com:6379": f"127.0.0.1:{secured.port}",
        "redis.prod.com:6380": f"127.0.0.1:{secured.tls_port}",
        "/etc/ssl/redis-ca.pem": str(tls_files.ca_cert),
    }
    run_example(code, replacements, tmp_path)
