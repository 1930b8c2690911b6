"""The shop's tasks, written as Django's Tasks documentation shows."""

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport
    from django_tasks import task

import threading
import time

from django.db import connection

from shop.models import Note


@task
def add(a, b):
    return a + b


@task()
async def greet(name):
    return f"Hello, {name}!"


class OutOfStock(Exception):
    pass


@task
def fail(item):
    raise OutOfStock(f"no {item} left")


@task(takes_context=True)
def attempt(context, label):
    return {"label": label, "attempt": context.attempt, "id": context.task_result.id}


@task(queue_name="emails")
def send_email(to):
    return f"sent to {to}"


@task
def write_note(text):
    return Note.objects.create(text=text).pk


@task
async def write_note_async(text):
    note = await Note.objects.acreate(text=text)
    return note.pk


@task
def connection_state():
    """Whether this task found its thread's connection open, then opens it."""
    was_open = connection.connection is not None
    Note.objects.count()
    return was_open


@task
def not_json():
    return object()


# For the tests of how a worker runs tasks (in the worker's own process).
PAIR = threading.Barrier(2)
RELEASED = threading.Event()


@task
def meet():
    """Returns once another `meet` runs at the same time (or fails after 5 s)."""
    PAIR.wait(timeout=5)
    return "met"


@task
def wait_for_release():
    """Returns once `release` ran (or False after 5 s)."""
    return RELEASED.wait(timeout=5)


@task
async def release():
    RELEASED.set()


@task
def nap(seconds):
    """Sleeps, then says so (a task still running when a worker is told to stop)."""
    time.sleep(seconds)
    return f"slept {seconds}"
