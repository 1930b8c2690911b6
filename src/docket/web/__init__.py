"""The operator's dashboard: ``create_app(docket)`` builds an ASGI app (Starlette,
Jinja2 templates, server-sent events) that ``docket dashboard`` serves and that a
Starlette or FastAPI service can mount under a path. Needs ``docket[web]``."""

from .app import create_app, end_live_streams

__all__ = ["create_app", "end_live_streams"]
