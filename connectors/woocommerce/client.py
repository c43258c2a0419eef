"""WooCommerce REST v3 client: the ``woocommerce`` package, wrapped so that failures raise.

``woocommerce.API`` signs requests (HTTP Basic over https, OAuth 1.0a one-legged over
plain http) but returns raw responses whatever their status, and over http it puts
``params=`` both in the signed URL and again through ``requests``. So this wrapper
sets the timeout, passes query parameters inside the path only, and turns every
outcome into data or one of Waybill's error classes (``connectors.errors``).

The library's OAuth nonce is 8 digits from ``random`` (10^8 values), and WooCommerce
refuses a nonce it has seen within its 15-minute window ("nonce has already been used"):
at a few thousand calls a window, as a full stock push makes, a repeat is likely. Its
nonces are replaced here by 160 random bits from the operating system.

The library sends through ``requests.request`` (a fresh, unguarded session per call);
its sender is replaced here by one that uses the client's own session, a
``connectors.netguard.kept_session`` (a guarded session kept per process and thread, so
its connections outlive the client): every new connection is checked against the address
policy, and redirects off the store's origin are refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import requests
import woocommerce
import woocommerce.api
import woocommerce.oauth

from connectors.errors import error_for_exception, error_for_status, platform_code
from connectors.netguard import STRICT, AddressPolicy, kept_session
from connectors.storefront.access import StoreAccess
from core.errors import Retryable

PER_PAGE_MAX = 100


def oauth_nonce() -> str:
    """A one-time OAuth 1.0a nonce: 160 bits from the OS, 40 hex digits like the library's."""
    return secrets.token_hex(20)


woocommerce.oauth.OAuth.generate_nonce = staticmethod(oauth_nonce)  # type: ignore[method-assign]


def _send(
    method: str, url: str, *, session: requests.Session | None = None, **kwargs: Any
) -> requests.Response:
    """The library's sender: through the calling client's guarded session.

    ``WooClient`` always passes its session; a bare ``woocommerce.API`` (the simulator's
    own tests) keeps the library's behaviour.
    """
    timeout = kwargs.pop("timeout", 10.0)  # the library always passes its own
    if session is None:
        return requests.request(method=method, url=url, timeout=timeout, **kwargs)
    return session.request(method=method, url=url, timeout=timeout, **kwargs)


woocommerce.api.request = _send
_NOT_JSON = object()  # a 2xx whose body does not parse, told apart from JSON null


def _query_value(value: Any) -> str:
    """How WordPress reads a query value (booleans as ``true``/``false``, lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value)
    return str(value)


def with_query(path: str, params: dict[str, Any] | None, signed_in_url: bool) -> str:
    """``path`` with ``params`` urlencoded onto it (None values left out).

    Over plain http the library appends a bare ``?`` before signing, which would glue
    itself to the last value; a trailing ``&`` leaves it an empty pair that is dropped.
    """
    pairs = [(k, _query_value(v)) for k, v in (params or {}).items() if v is not None]
    endpoint = path.lstrip("/")
    if pairs:
        endpoint += ("&" if "?" in endpoint else "?") + urlencode(pairs)
    if signed_in_url and "?" in endpoint:
        endpoint += "&"
    return endpoint


def _json(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def _describe(body: Any) -> str:
    """The error code of a WP_Error body (never its message nor the body: the store wrote those)."""
    code = platform_code(body.get("code")) if isinstance(body, dict) else None
    return code or "no error code"


class WooClient:
    """One store's REST API (``{store_url}/wp-json/wc/v3/``) with one consumer key."""

    def __init__(
        self,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout_s: float = 10.0,
        verify_ssl: bool = True,
        policy: AddressPolicy = STRICT,
    ) -> None:
        self.store_url = store_url.rstrip("/")
        self._http = kept_session(policy)
        self._api = woocommerce.API(
            url=self.store_url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            version="wc/v3",
            timeout=timeout_s,
            verify_ssl=verify_ssl,
        )
        # Over http the library signs with OAuth in the URL; over https it sends Basic auth.
        self._signed_in_url = not self.store_url.lower().startswith("https")

    def __repr__(self) -> str:
        return f"WooClient(store_url={self.store_url!r})"

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path``; the parsed JSON."""
        return self._call("GET", path, params)[0]

    def get_page(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, int, int]:
        """One page of a collection: ``(items, total, total_pages)`` from ``X-WP-Total(Pages)``."""
        items, response = self._call("GET", path, params)
        count = len(items) if isinstance(items, list) else 0
        total = _int_header(response, "X-WP-Total", count)
        pages = _int_header(response, "X-WP-TotalPages", 1 if count else 0)
        return items, total, pages

    def iterate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, page by page (``per_page=100``, WooCommerce's maximum)."""
        page = 1
        while True:
            items, _, pages = self.get_page(path, {**(params or {}), "per_page": PER_PAGE_MAX, "page": page})
            yield from items or []
            if not items or page >= pages:
                return
            page += 1

    def post(self, path: str, data: Any) -> Any:
        return self._call("POST", path, None, data)[0]

    def put(self, path: str, data: Any) -> Any:
        return self._call("PUT", path, None, data)[0]

    def delete(self, path: str, force: bool = False) -> Any:
        """DELETE ``path``; ``force`` deletes for good instead of moving to the trash."""
        return self._call("DELETE", path, {"force": True} if force else None)[0]

    def _call(
        self, method: str, path: str, params: dict[str, Any] | None, data: Any = None
    ) -> tuple[Any, requests.Response]:
        what = f"woocommerce {method} {path.split('?')[0]}"
        endpoint = with_query(path, params, self._signed_in_url)
        senders: dict[str, Callable[[], requests.Response]] = {
            "GET": lambda: self._api.get(endpoint, session=self._http),
            "POST": lambda: self._api.post(endpoint, data, session=self._http),
            "PUT": lambda: self._api.put(endpoint, data, session=self._http),
            "DELETE": lambda: self._api.delete(endpoint, session=self._http),
        }
        try:
            response = senders[method]()
        except requests.RequestException as exc:
            raise error_for_exception(exc, what) from exc
        body = _json(response)
        error = error_for_status(response.status_code, f"{what}: {_describe(body)}", response.headers)
        if error is not None:
            raise error
        if body is _NOT_JSON:
            # A caching proxy or maintenance page answering in HTML: the store is not itself yet.
            raise Retryable(f"{what}: HTTP {response.status_code} answer is not JSON")
        return body, response


def _int_header(response: requests.Response, name: str, default: int) -> int:
    try:
        return int(response.headers.get(name, default))
    except (TypeError, ValueError):
        return default


def client_for(access: StoreAccess) -> WooClient:
    """The REST client of the store ``access`` describes (its consumer key and secret)."""
    return WooClient(
        access.domain,
        access.credentials["consumer_key"],
        access.credentials["consumer_secret"],
        policy=access.policy or STRICT,
    )
