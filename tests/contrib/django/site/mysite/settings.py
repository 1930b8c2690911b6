"""A Django project's settings, as startproject writes them, with TASKS on Docket.

The tests set DOCKET_URL, DOCKET_NAME and SHOP_DB (the SQLite file) in the
environment."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = os.environ.get("SHOP_USE_TZ", "1") == "1"
TIME_ZONE = os.environ.get("SHOP_TIME_ZONE", "UTC")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "docket.contrib.django",
    "shop",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", str(BASE_DIR / "db.sqlite3")),
        "CONN_MAX_AGE": int(os.environ["SHOP_CONN_MAX_AGE"])
        if os.environ.get("SHOP_CONN_MAX_AGE")
        else 0,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "docket.contrib.django.DocketBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {
            "url": os.environ.get("DOCKET_URL", "redis://localhost:6379/0"),
            "name": os.environ.get("DOCKET_NAME", "mysite"),
        },
    }
}
