"""Times between Django and Docket: Docket keeps aware UTC datetimes; Django
hands out aware ones with ``USE_TZ = True`` and naive ones in its time zone
otherwise, as ``django.utils.timezone.now()`` does."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as utc_zone

from django.conf import settings
from django.utils import timezone


def for_django(moment: datetime | None) -> datetime | None:
    """A Docket time as Django shows times under the current settings."""
    if moment is None:
        return None
    if settings.USE_TZ:
        return moment.astimezone(utc_zone.utc)
    return timezone.make_naive(moment, timezone.get_default_timezone())


def for_docket(moment: datetime) -> datetime:
    """A time from Django (``run_after``) as Docket needs it: aware. A naive
    one is in Django's time zone (``USE_TZ = False``)."""
    if timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment, timezone.get_default_timezone())


__all__ = ["for_django", "for_docket"]
