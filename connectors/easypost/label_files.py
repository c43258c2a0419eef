"""A purchased label's file, read from where EasyPost keeps it (the label's ``label_url``).

One GET with bounded timeouts and a size limit, no redirects. Failures are classified like
every connector's: ``Retryable`` (timeouts, connection errors, 429, 5xx) or ``Permanent``
(any other status).
"""

from __future__ import annotations

import requests

from core.errors import Permanent, Retryable

TIMEOUT_S = (3.0, 5.0)  # connect, read
MAX_FILE = 5_000_000  # bytes


def fetch_label_file(
    url: str, session: requests.Session | None = None, timeout_s: tuple[float, float] = TIMEOUT_S
) -> bytes:
    """The label file's bytes."""
    if not url.startswith(("https://", "http://")):
        raise Permanent("the label has no file address")
    http = session or requests.Session()
    try:
        with http.get(url, timeout=timeout_s, stream=True, allow_redirects=False) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise Retryable(f"label file: HTTP {status}")
            if status != 200:
                raise Permanent(f"label file: HTTP {status}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > MAX_FILE:
                    raise Permanent("label file too large")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise Retryable(f"label file: {type(exc).__name__}") from exc
    finally:
        if session is None:
            http.close()
    return b"".join(chunks)
