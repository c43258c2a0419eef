"""Gunicorn settings read from the working directory (``gunicorn "app:create_app()"``).

Only a hook: bind, workers and threads stay on the command line (docs/operations.md).
With ``--preload`` the app, its database engine and Redis pools are built in the master;
each forked worker lets go of those connections before serving (``db/forks.py``, by
``os.register_at_fork``), so no worker shares a socket with the master or another worker.
"""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    """Each worker, once its app is loaded, freezes its start-up heap (see
    ``sync.runtime.freeze_boot_heap``): later full collections skip it."""
    from sync.runtime import freeze_boot_heap

    freeze_boot_heap()
