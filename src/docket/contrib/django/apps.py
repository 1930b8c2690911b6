"""The Django app ``docket.contrib.django``: what ``INSTALLED_APPS`` names to
bring the ``docket_worker`` management command."""

from __future__ import annotations

from django.apps import AppConfig


class DocketConfig(AppConfig):
    name = "docket.contrib.django"
    label = "docket"
    verbose_name = "Docket"
