"""Gunicorn settings read from the working directory (``gunicorn "app:create_app()"``).

Only a hook: bind, workers and threads stay on the command line (docs/operations.md).
With ``--preload`` the app, its database engine and Redis pools are built in the master;
each forked worker lets go of those connections before serving (``db/forks.py``, by
``os.register_at_fork``), so no worker shares a socket with the master or another worker.
"""

from __future__ import annotations

from typing import Any

# gunicorn's control socket (for ``gunicornc``) sits at one path per user
# (``$XDG_RUNTIME_DIR/gunicorn.ctl`` or ``~/.gunicorn/gunicorn.ctl``): two gunicorns of one
# user (a test run beside a service, two test processes) would each take it over. Waybill
# does not use it; reload and stop go by signals (docs/operations.md).
control_socket_disable = True


def post_worker_init(worker: Any) -> None:
    """Each worker, once its app is loaded, freezes its start-up heap (see
    ``sync.runtime.freeze_boot_heap``): later full collections skip it."""
    from sync.runtime import freeze_boot_heap

    freeze_boot_heap()
