"""The Celery app of one library's workers, its tasks, and the worker process.

Every pool process opens the library once, on its first task, from the worker's settings
(forked from the main process, which opened it once first so that migrations run before
any task), and keeps it with its models. Tasks are acknowledged late and redone when a
worker dies (see ``deepdiary.services.tasks``); a pool process dies with its parent, so a
worker killed with SIGKILL leaves no orphan finishing its task unseen.
"""

from __future__ import annotations

import os
import threading

from celery import Celery, signals

from deepdiary.core.settings import Settings
from deepdiary.core.processes import this_host
from deepdiary.services import tasks as work
from deepdiary.services.context import AppContext

_settings: Settings | None = None
_ctx: AppContext | None = None
_ctx_lock = threading.Lock()


def context() -> AppContext:
    """This process's context for the worker's library, opened on first use."""
    global _ctx
    if _ctx is None:
        with _ctx_lock:
            if _ctx is None:
                if _settings is None:
                    raise RuntimeError("the worker's settings were never given (run `deepdiary worker`)")
                _ctx = AppContext(_settings)
    return _ctx


@signals.worker_process_init.connect
def _fresh_context(**_) -> None:
    """A forked pool process starts without the parent's context (its connections are the parent's)."""
    global _ctx
    _ctx = None


@signals.worker_process_shutdown.connect
def _close_context(**_) -> None:
    if _ctx is not None:
        _ctx.close()


def make_app(settings: Settings) -> Celery:
    """The Celery app for ``settings``' library, with its tasks registered."""
    global _settings
    _settings = settings
    app = Celery("deepdiary", set_as_current=False)
    app.conf.update(work.celery_config(settings))

    @app.task(name=work.ENRICH_PHOTO, acks_late=True, reject_on_worker_lost=True)
    def enrich_photo(namespace: str, job_id: int, item_id: int) -> dict:
        return work.enrich_photo_task(context(), namespace, job_id, item_id)

    @app.task(name=work.INDEX_TEXT, acks_late=True, reject_on_worker_lost=True)
    def index_text(namespace: str, job_id: int) -> dict:
        return work.index_text_task(context(), namespace, job_id)

    return app


def run_worker(settings: Settings, concurrency: int = 1, loglevel: str = "INFO") -> int:
    """Run a worker for ``settings``' library until it is stopped; its exit code."""
    if concurrency < 1:
        from deepdiary.core.errors import InvalidInput

        raise InvalidInput(f"--concurrency: {concurrency} is below 1")
    app = make_app(settings)
    # Open (and migrate) the library once here, then close it: each pool process opens its own.
    ctx = AppContext(settings)
    try:
        ctx.library
    finally:
        ctx.close()
    worker = app.Worker(concurrency=concurrency, pool="prefork", queues=[work.queue_name(settings)],
                        hostname=f"deepdiary-{os.getpid()}@{this_host()}", loglevel=loglevel,
                        without_gossip=True, without_mingle=True, without_heartbeat=True, optimization="fair")
    worker.start()
    return worker.exitcode or 0
