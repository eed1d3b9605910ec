"""Celery workers (``deepdiary worker``): they run the enrichment and embedding tasks that
ingest enqueues when ``DEEPDIARY_BROKER_URL`` is set. An interface, like the CLI and the
web app: its tasks call the services (``deepdiary.services.tasks``) and nothing below."""

from deepdiary.workers.app import make_app, run_worker

__all__ = ["make_app", "run_worker"]
