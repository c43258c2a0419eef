"""The test shop's HTTP client: JSON over ``requests``, every failure as a ``core.errors`` type."""

from __future__ import annotations

from typing import Any

import requests

from connectors.errors import error_for_exception, error_for_status
from connectors.storefront.access import StoreAccess


class TestShopClient:
    """One test shop's REST API at ``https://<domain>/api/`` with one bearer token."""

    __test__ = False  # not a test class

    def __init__(self, access: StoreAccess) -> None:
        self.root = f"https://{access.domain}/api"
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {access.credentials['token']}"

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        what = f"testshop {method} {path}"
        try:
            response = self._http.request(method, f"{self.root}/{path}", json=body, params=params, timeout=5)
        except requests.RequestException as exc:
            raise error_for_exception(exc, what) from exc
        error = error_for_status(response.status_code, what, response.headers)
        if error is not None:
            raise error
        return response.json() if response.content else None
