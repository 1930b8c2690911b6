"""``docket dashboard``: serve the web dashboard (needs ``docket[web]``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .. import _defaults
from .._redis import redact_url
from ._app import app
from ._common import fail, say
from ._options import DocketName, SigningKeysFile, Url
from ._options import signing_keys as keys_of


async def _serve(
    docket_name: str,
    url: str,
    host: str,
    port: int,
    read_only: bool,
    unpickle: bool,
    keys: list[str] | None = None,
    allowed_hosts: list[str] | None = None,
    public_read: bool = False,
) -> None:
    import uvicorn

    from ..docket import Docket
    from ..web import create_app, end_live_streams

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        web = create_app(
            docket,
            read_only=read_only,
            unpickle=unpickle,
            allowed_hosts=[host, *(allowed_hosts or [])],
            public_read=public_read,
        )
        config = uvicorn.Config(
            web,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,  # whatever a request still does
        )

        class Server(uvicorn.Server):
            async def shutdown(self, sockets: Any = None) -> None:
                end_live_streams(web)  # an open tab must not hold the exit
                await super().shutdown(sockets)

        server = Server(config)
        say(
            f"Dashboard of docket {docket_name!r} at {redact_url(url)} "
            f"on http://{host}:{port}/ (Ctrl+C stops it)"
        )
        await server.serve()


@app.command()
def dashboard(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            envvar=_defaults.ENV_DASHBOARD_HOST,
            help="The address to listen on (only this machine by default)",
        ),
    ] = _defaults.DASHBOARD_HOST,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            envvar=_defaults.ENV_DASHBOARD_PORT,
            min=0,
            max=65535,
            help="The port to listen on",
        ),
    ] = _defaults.DASHBOARD_PORT,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Refuse every action")
    ] = False,
    unpickle: Annotated[
        bool,
        typer.Option(
            "--unpickle",
            help="Show task arguments by unpickling them (runs code from the "
            "payloads: only for payloads you trust; with signing keys, arguments "
            "that verify are shown anyway and the others never)",
        ),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A Host name to answer to besides the --host address, 127.0.0.1, "
            "localhost and [::1] (repeatable; also DOCKET_DASHBOARD_ALLOWED_HOSTS, "
            "comma-separated; * answers to any). Other names get 400",
        ),
    ] = None,
    public_read: Annotated[
        bool,
        typer.Option(
            "--public-read",
            help="Let anyone read pages and /api/ without the token (actions "
            "still need it)",
        ),
    ] = False,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Serve the web dashboard. With DOCKET_DASHBOARD_TOKEN set, every page and
    action needs it."""
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("starlette", "uvicorn", "jinja2")):
        raise fail(
            "Error: the dashboard needs the web extra: pip install 'docket[web]'"
        )
    from ..web.console import Settings
    from ..web.hosts import allowed_names

    hosts = list(allowed_host or [])
    try:
        allowed_names([host, *hosts])
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'--allowed-host'") from None
    try:  # the token and DOCKET_DASHBOARD_ALLOWED_HOSTS, before serving
        Settings.from_environment(None, read_only, unpickle, public_read, hosts)
    except ValueError as error:
        raise fail(f"Error: {error}") from None
    try:
        keys = keys_of(signing_keys)
        asyncio.run(
            _serve(
                docket_,
                url,
                host,
                port,
                read_only,
                unpickle,
                keys,
                hosts,
                public_read,
            )
        )
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise fail(f"Error: could not serve on {host}:{port}: {error}") from None
