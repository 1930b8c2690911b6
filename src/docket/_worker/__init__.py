"""The worker's machinery: one session of loops around claiming and running tasks."""
