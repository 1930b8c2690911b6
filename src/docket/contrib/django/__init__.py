"""Docket as a backend for Django's Tasks API (Django 6's ``django.tasks``, or
the ``django-tasks`` backport on Django 5.2).

Put ``"docket.contrib.django"`` in ``INSTALLED_APPS`` (it brings the
``docket_worker`` management command) and point ``TASKS`` at the backend::

    TASKS = {
        "default": {
            "BACKEND": "docket.contrib.django.DocketBackend",
            "QUEUES": ["default", "emails"],
            "OPTIONS": {"url": "redis://localhost:6379/0", "name": "myproject"},
        }
    }

See docs/django.md."""

from ._outcome import TaskFailed, TaskStruck
from .backend import DocketBackend

__all__ = ["DocketBackend", "TaskFailed", "TaskStruck"]
