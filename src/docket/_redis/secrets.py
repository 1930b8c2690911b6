"""Keeping a URL's secrets out of the errors the seam raises."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote


def url_secrets(url: str) -> list[str]:
    """The passwords a URL carries: in its userinfo and in ``*password=`` options."""
    _scheme, _, rest = url.partition("://")
    location, _, query = rest.partition("?")
    netloc = location.split("/", 1)[0]
    userinfo, at, _hosts = netloc.rpartition("@")
    found: list[str] = []
    if at and ":" in userinfo:
        raw = userinfo.split(":", 1)[1]
        found += [raw, unquote(raw)]
    for key, value in parse_qsl(query.split("#", 1)[0]):
        if key.lower().endswith("password"):
            found.append(value)
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


@contextmanager
def scrubbed(url: str) -> Generator[None, None, None]:
    """Re-raise an error whose message shows a secret of ``url`` without it."""
    try:
        yield
    except Exception as error:
        text = str(error)
        clean = scrub(text, url)
        if clean == text:
            raise
        try:
            replacement = type(error)(clean)
        except Exception:
            replacement = RuntimeError(clean)
        raise replacement from None
