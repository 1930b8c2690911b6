"""Fixtures of the Django tests: a Django project (``site/``: ``mysite``
settings, the ``shop`` app and its tasks) on SQLite, with TASKS on a real
redis-server. They run with Django 6 (``django.tasks``) or Django 5.2 and the
``django-tasks`` backport, whichever this interpreter has: the main suite runs
them on the second (Python 3.11), scripts/test.sh again on the first
(``.venv-django6``, Python 3.12)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from docket.contrib.django import _compat
except ImportError as missing:  # pragma: no cover (the test extras bring one)
    pytest.skip(f"no Django Tasks API here: {missing}", allow_module_level=True)

from tests._support import ROOT
from tests._support.servers import RedisServer

SITE = Path(__file__).parent / "site"
API = _compat.API


def site_environment(
    url: str, name: str, database: Path, **extra: str
) -> dict[str, str]:
    """The environment of a ``manage.py`` process of the test project."""
    environment = {
        name_: value
        for name_, value in os.environ.items()
        if not name_.startswith(("DOCKET_", "SHOP_", "DJANGO_"))
    }
    environment.update(
        {
            "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT / "src"), str(ROOT)]),
            "DOCKET_URL": url,
            "DOCKET_NAME": name,
            "SHOP_DB": str(database),
            **extra,
        }
    )
    return environment


def tasks_setting(url: str, name: str, **options: Any) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "docket.contrib.django.DocketBackend",
            "QUEUES": ["default", "emails"],
            "OPTIONS": {"url": url, "name": name, **options},
        }
    }


@pytest.fixture(scope="session")
def django_site(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Django set up in this process with the project's apps (once per process)
    and its database migrated; returns the SQLite file."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    database = tmp_path_factory.mktemp("django") / "shop.sqlite3"
    if str(SITE) not in sys.path:
        sys.path.insert(0, str(SITE))
    if not settings.configured:
        settings.configure(
            SECRET_KEY="tests-only-not-a-secret",
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "docket.contrib.django",
                "shop",
            ],
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(database),
                }
            },
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
            USE_TZ=True,
            TIME_ZONE="UTC",
            TASKS=tasks_setting(redis_server.url, "unused"),
        )
        django.setup()
        call_command("migrate", verbosity=0)
    return Path(settings.DATABASES["default"]["NAME"])


@pytest.fixture
def docket_prefix() -> str:
    return f"dj-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def backend(
    django_site: Path, redis_server: RedisServer, docket_prefix: str
) -> Iterator[Any]:
    """The ``default`` task backend, a DocketBackend on its own dockets of the
    test redis-server; the portal's Dockets are closed afterwards."""
    from django.test import override_settings

    from docket.contrib.django._portal import portal

    with override_settings(TASKS=tasks_setting(redis_server.url, docket_prefix)):
        yield _compat.task_backends["default"]
    portal.close()


def run_queues(backend: Any, *queues: str, concurrency: int = 4) -> None:
    """Run the backend's queues (all, or those given) in this process until
    they are empty, as ``manage.py docket_worker --until-finished`` does."""
    from docket.contrib.django.worker import run_workers

    chosen = list(queues) or list(backend.settings.queues)
    assert asyncio.run(
        run_workers(backend, chosen, concurrency=concurrency, until_finished=True)
    )
