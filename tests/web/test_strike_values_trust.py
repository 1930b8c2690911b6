"""No form or API field is ever resolved to code: the dashboard's strike form
takes literals of the type chosen beside the value, and ``docket strike`` reads
``type:text`` as literals unless ``--unsafe-resolve-values`` is given. Against a
real ``docket dashboard`` process and a real redis-server."""

from __future__ import annotations

import ast
import datetime
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from docket import Docket
from docket.cli import app, interpret_python_value
from tests._support import ROOT
from tests._support.dashboard import dashboard_process
from tests._support.servers import RedisServer

TOKEN = "trust-test-token-0123456789"
runner = CliRunner()


def hostile_values(folder: Path) -> dict[str, Path]:
    """Values the old interpreter resolved to code, each with the path it would
    have created."""
    m = {name: folder / name for name in ("system", "eval", "exec", "mkdir", "sub")}
    return {
        f"os.system:touch {m['system']}": m["system"],
        f"eval:__import__('os').mkdir({str(m['eval'])!r})": m["eval"],
        f"exec:import os; os.mkdir({str(m['exec'])!r})": m["exec"],
        f"os.mkdir:{m['mkdir']}": m["mkdir"],
        f"subprocess.getoutput:touch {m['sub']}": m["sub"],
        f"builtins.open:{folder / 'never-read'}": folder / "never-opened",
    }


async def strikes_in_place(url: str, name: str) -> list[Any]:
    async with Docket(name, url=url) as docket:
        await docket.wait_for_strikes_loaded()
        rules = docket.strike_list
        return [
            *rules.struck_functions,
            *rules.task_strikes.items(),
            *rules.parameter_strikes.items(),
        ]


async def sign_in(client: httpx.AsyncClient, token: str | None) -> None:
    """Make ``client`` browser-like: it visited a page (CSRF cookie) and signed in."""
    assert (await client.get("/login")).status_code == 200
    if token is not None:
        csrf = client.cookies["docket_csrf"]
        signed = await client.post("/login", data={"token": token, "csrf": csrf})
        assert signed.status_code == 303 and "Wrong" not in signed.headers["location"]


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_the_strike_form_never_runs_a_value(
    redis_server: RedisServer, docket_name: str, tmp_path: Path, token: str | None
):
    """Posting ``os.system:``, ``eval:``, ``exec:``, ``builtins.open:`` (and
    other callables) as a strike value, with or without a token, with or without
    the action header, with or without a session and CSRF token, answers 4xx,
    creates no file and strikes nothing."""
    env = {"DOCKET_DASHBOARD_TOKEN": token} if token else {}
    values = hostile_values(tmp_path)
    with dashboard_process(redis_server.url, docket_name, tmp_path, env=env) as base:
        async with (
            httpx.AsyncClient(base_url=base, timeout=10) as stranger,
            httpx.AsyncClient(base_url=base, timeout=10) as browser,
        ):
            await sign_in(browser, token)
            csrf = browser.cookies["docket_csrf"]
            for value in values:
                form = {"function": "greet", "parameter": "name", "value": value}
                header = {"x-docket-action": "1"}
                bearer = {**header, "authorization": f"Bearer {token}"}
                attempts = [
                    await stranger.post("/strikes/add", data=form),
                    await stranger.post("/strikes/add", data=form, headers=header),
                    await stranger.post("/strikes/add", data=form, headers=bearer),
                    await browser.post("/strikes/add", data={**form, "csrf": csrf}),
                    await browser.post("/strikes/add", data=form, headers=header),
                ]
                for kind in ("os.system", "eval", "exec", "builtins.open", ""):
                    typed = {**form, "type": kind, "csrf": csrf}
                    attempts.append(await browser.post("/strikes/add", data=typed))
                    attempts.append(
                        await stranger.post("/strikes/add", data=typed, headers=bearer)
                    )
                for response in attempts:
                    assert 400 <= response.status_code < 500, (value, response.text)
    for value, path in values.items():
        assert not path.exists(), value
    assert await strikes_in_place(redis_server.url, docket_name) == []


async def test_the_strike_form_takes_typed_literals(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """The type chosen beside the value makes a literal of it: an int, a UUID,
    a timedelta (seconds), a date, a ``between`` pair, and a string that merely
    looks like code stays that string."""
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cases: list[tuple[str, str, str, Any]] = [
        ("==", "int", "42", 42),
        ("==", "uuid.UUID", str(key), key),
        ("<", "datetime.timedelta", "90", datetime.timedelta(seconds=90)),
        ("==", "datetime.date", "2026-01-02", datetime.date(2026, 1, 2)),
        ("==", "decimal.Decimal", "9.99", Decimal("9.99")),
        ("==", "bool", "TRUE", True),
        ("==", "None", "", None),
        ("between", "float", "1.5,2.5", (1.5, 2.5)),
        ("==", "str", "os.system:id", "os.system:id"),
    ]
    with dashboard_process(redis_server.url, docket_name, tmp_path) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as browser:
            await sign_in(browser, None)
            csrf = browser.cookies["docket_csrf"]
            for operator, kind, text, _ in cases:
                form = {"parameter": f"p_{kind}", "operator": operator}
                form |= {"type": kind, "value": text, "csrf": csrf}
                done = await browser.post("/strikes/add", data=form)
                assert done.status_code == 303, done.text
                assert "Struck" in done.headers["location"], done.headers
            wrong = {"parameter": "p", "type": "int", "value": "4x2", "csrf": csrf}
            refused = await browser.post("/strikes/add", data=wrong)
            assert "not+a+valid+int" in refused.headers["location"]
            page = (await browser.get("/strikes")).text
            assert "<option>datetime.timedelta</option>" in page
    [*strikes] = await strikes_in_place(redis_server.url, docket_name)
    found = {parameter: pairs for parameter, pairs in strikes}
    for operator, kind, _, expected in cases:
        [(struck_operator, value)] = found[f"p_{kind}"]
        assert (struck_operator.value, value) == (operator, expected)
        assert type(value) is type(expected)
    assert "p" not in found


def test_the_cli_reads_literals_and_resolves_code_only_when_told(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """``docket strike`` refuses ``os.mkdir:DIR`` (exit 2, nothing created);
    with ``--unsafe-resolve-values`` the same value is called, as documented."""
    target = tmp_path / "made-by-the-cli"
    base = ["--url", redis_server.url, "--docket", docket_name]
    for verb in ("strike", "restore"):
        refused = runner.invoke(
            app, [verb, "f", "p", "==", f"os.mkdir:{target}", *base]
        )
        assert refused.exit_code == 2, refused.output
        assert "unknown type 'os.mkdir'" in " ".join(refused.output.split())
        assert not target.exists()
    allowed = runner.invoke(
        app,
        ["strike", "f", "p", "==", f"os.mkdir:{target}", "--unsafe-resolve-values"]
        + base,
    )
    assert allowed.exit_code == 0, allowed.output
    assert target.is_dir()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("int:42", 42),
        ("float:3.14", 3.14),
        ("decimal.Decimal:3.14", Decimal("3.14")),
        (
            "uuid.UUID:12345678-1234-5678-1234-567812345678",
            uuid.UUID(int=0x12345678123456781234567812345678),
        ),
        ("datetime.timedelta:5", datetime.timedelta(seconds=5)),
        ("bool:true", True),
        ("bool:nope", False),
        ("None:", None),
        (
            "datetime.datetime:2026-01-02T03:04:05+00:00",
            datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        ),
        ("str:eval:1", "eval:1"),
    ],
)
def test_the_documented_prefixes_stay_literals(text: str, expected: Any):
    """Every prefix the reference documents still reads as before, without
    the unsafe flag; the value's type is exactly the one named."""
    value = interpret_python_value(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "text", ["eval:1+1", "exec:pass", "os.getcwd:x", "builtins.open:/etc/hosts"]
)
def test_other_prefixes_are_refused(text: str):
    """Any prefix that is not a literal type is a ValueError by default."""
    with pytest.raises(ValueError, match="unknown type"):
        interpret_python_value(text)


def test_the_dashboard_never_imports_the_cli():
    """No module of ``docket.web`` imports from ``docket.cli`` (where the one
    code-resolving parser lives), at any level."""
    for path in (ROOT / "src" / "docket" / "web").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                assert "cli" not in module.split("."), (path, module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("docket.cli"), path


def test_hostile_values_would_run_if_resolved(tmp_path: Path):
    """The precondition: resolving these values does create their marker, so
    its absence above means nothing ran."""
    target = tmp_path / "precondition"
    interpret_python_value(f"os.mkdir:{target}", unsafe_resolve_values=True)
    assert target.is_dir()
