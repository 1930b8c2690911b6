"""One module per page: each gives its HTML route, its ``/api/`` JSON route and
its actions."""
