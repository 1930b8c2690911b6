"""Docket where Python services live: ``docket.contrib.django`` (a backend for
Django's Tasks API, with the ``docket_worker`` management command) and
``docket.contrib.fastapi`` (a lifespan, a dependency and the dashboard mounted
under a path). Each needs its extra (``docket[django]``, ``docket[fastapi]``);
a plain worker imports neither. They use only Docket's public API."""
