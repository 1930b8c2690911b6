"""Credentials from a redis-py ``CredentialProvider`` instead of the URL.

A provider (for example one that fetches IAM or Entra ID tokens, or a rotating
password) is asked for a username and password each time a connection is
opened: the data connections, the pub/sub connections, the result store's and the
strike list's. Passing credentials both ways would leave it unclear which wins,
so a URL that carries any is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from redis.credentials import CredentialProvider

BOTH = "Pass credentials in the URL or in credential_provider, not both"


def url_has_credentials(url: str) -> bool:
    """Whether ``url`` names a username or password (userinfo or query)."""
    _scheme, separator, rest = url.partition("://")
    if not separator:
        return False
    location, _, query = rest.partition("#")[0].partition("?")
    netloc = location.partition("/")[0]
    userinfo, at, _hosts = netloc.rpartition("@")
    if at and userinfo:
        return True
    return any(
        name.lower() in ("username", "password") and value
        for name, value in parse_qsl(query)
    )


def check_credentials(
    url: str | None,
    provider: CredentialProvider | None,
    connection_pool: Any | None = None,
) -> None:
    """Refuse a provider next to credentials given another way (ValueError)."""
    if provider is None:
        return
    if url is not None and url_has_credentials(url):
        raise ValueError(BOTH)
    if connection_pool is not None:
        raise ValueError(
            "credential_provider= does not reach the connections of a "
            "connection_pool= you built: give that pool the provider instead"
        )


def provider_options(provider: CredentialProvider | None) -> dict[str, Any]:
    """Keyword arguments that hand ``provider`` to a redis-py client or pool."""
    return {} if provider is None else {"credential_provider": provider}
