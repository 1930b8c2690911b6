"""A DocketBackend's settings are checked when Django builds it: each mistake
is an InvalidTaskBackend (Django's ImproperlyConfigured) saying what to fix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from docket.contrib.django import DocketBackend
from docket.contrib.django._compat import InvalidTaskBackend


def make(queues: Any = ("default",), **options: Any) -> DocketBackend:
    return DocketBackend("default", {"QUEUES": list(queues), "OPTIONS": options})


@pytest.mark.parametrize(
    "queues, options, message",
    [
        (["default"], {"URL": "redis://x"}, "unknown option"),
        ([], {}, "must list the queues"),
        (["default", "bad queue"], {}, "'bad queue'"),
        (["default", "a:b"], {}, "'a:b'"),
        (["default"], {"url": "memory://here"}, "memory://"),
        (["default"], {"url": ""}, "non-empty string"),
        (["default"], {"name": 3}, "non-empty string"),
        (["default"], {"execution_ttl": "1h"}, "timedelta or a number"),
        (["default"], {"execution_ttl": 0}, "positive"),
        (["default"], {"signing_keys": "one-key"}, "list of keys"),
        (["default"], {"signing_keys": ["short"]}, "at least 16 bytes"),
        (["default"], {"url": "http://example.com"}, "OPTIONS"),
        (["default"], {"serializer": "yaml"}, "OPTIONS"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(
    django_site: Any, queues: list[str], options: dict[str, Any], message: str
) -> None:
    """Unknown options (a typo), no queues, queue names that cannot name a
    Docket, memory:// (which another process cannot reach), bad values."""
    with pytest.raises(InvalidTaskBackend, match=message):
        make(queues, **options)


def test_queues_map_to_dockets(django_site: Any) -> None:
    """'default' is the Docket named by OPTIONS['name'] (Docket's own default
    name without one); another queue q is '<name>.q'."""
    backend = make(["default", "emails", "bulk.low"], name="shop")
    assert backend.docket_name("default") == "shop"
    assert backend.docket_name("emails") == "shop.emails"
    assert backend.settings.queue_of("shop.bulk.low") == "bulk.low"
    assert backend.settings.queue_of("shop.other") is None
    unnamed = make(["default", "emails"])
    assert unnamed.docket_name("default") == "docket"
    assert unnamed.docket_name("emails") == "docket.emails"


def test_options_reach_the_docket(django_site: Any) -> None:
    """url, execution_ttl (seconds or a timedelta), signing keys and the
    serializer (JSON unless another is chosen) configure each queue's Docket."""
    backend = make(
        ["default"],
        url="redis://127.0.0.1:6390/3",
        name="shop",
        execution_ttl=3600,
        signing_keys=["k1-sixteen-bytes-or-more"],
    )
    docket = backend.settings.make_docket("default")
    assert docket.name == "shop" and docket.url == "redis://127.0.0.1:6390/3"
    assert docket.execution_ttl == timedelta(hours=1)
    assert docket.codec.signing
    assert backend.settings.options["serializer"] == "json"
    pickled = make(["default"], serializer="pickle", execution_ttl=timedelta(days=1))
    assert pickled.settings.options["serializer"] == "pickle"
    assert pickled.settings.make_docket("default").execution_ttl == timedelta(days=1)
