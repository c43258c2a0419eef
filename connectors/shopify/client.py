"""Shopify Admin GraphQL transport: a small ``requests`` client that paces itself on Shopify's bucket.

Not ShopifyAPI's GraphQL client: that one goes through urllib with no timeout,
prints error bodies and ignores throttling. This one sends Waybill's documents
(``connectors/shopify/graphql/*.graphql``), waits before a query the bucket cannot
afford, retries THROTTLED answers inside the call up to ``max_wait_s`` and maps every
other failure to Waybill's error classes (``connectors.errors``).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import structlog
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from connectors.errors import Rejected, error_for_exception, error_for_status, platform_code, retry_after_s
from connectors.netguard import STRICT, AddressPolicy, guarded_session, kept_session
from connectors.shopify.throttle import REGISTRY, ThrottleState
from connectors.storefront.access import StoreAccess
from core.errors import Retryable, Throttled

log = structlog.get_logger("waybill.shopify")

GRAPHQL_DIR = Path(__file__).resolve().parent / "graphql"
FRAGMENTS_DIR = GRAPHQL_DIR / "fragments"
_DOCUMENT_NAME = re.compile(r"^[a-z0-9_]+$")
# Added to every wait computed from the refill arithmetic: Shopify reports whole points
# (rounded down) and waking exactly on the boundary can leave a fraction of a point short.
MARGIN_S = 0.001
# Only when Shopify says nothing about its bucket (no Retry-After, no throttleStatus).
_UNKNOWN_THROTTLE_WAIT_S = 1.0
# GraphQL error codes that are Shopify's trouble, not ours; every other code is a refusal.
RETRYABLE_ERROR_CODES = frozenset({"INTERNAL_SERVER_ERROR"})
DEFAULT_API_VERSION = "2026-10"


_SPREAD = re.compile(r"\.\.\.\s*([A-Z][A-Za-z0-9_]*)")


@functools.cache
def load_document(name: str) -> str:
    """Text of ``connectors/shopify/graphql/<name>.graphql`` (read once per process), with the
    shared fragments it spreads (``graphql/fragments/<Name>.graphql``) appended, once each."""
    if not _DOCUMENT_NAME.match(name):
        raise ValueError(f"not a document name: {name!r}")
    return with_fragments((GRAPHQL_DIR / f"{name}.graphql").read_text(encoding="utf-8"))


def with_fragments(text: str) -> str:
    """``text`` and every shared fragment it (or a fragment it adds) spreads and does not define."""
    added: list[str] = []
    while True:
        whole = "\n".join([text, *added])
        missing = sorted(
            {n for n in _SPREAD.findall(whole) if f"fragment {n} " not in whole}
            & {p.stem for p in FRAGMENTS_DIR.glob("*.graphql")}
        )
        if not missing:
            return whole
        added += [(FRAGMENTS_DIR / f"{n}.graphql").read_text(encoding="utf-8") for n in missing]


@functools.lru_cache(maxsize=512)
def is_mutation(text: str) -> bool:
    """Whether the document's operation is a mutation (unparseable text counts as a query)."""
    try:
        document = parse(text, no_location=True)
    except GraphQLError:
        return False
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        for d in document.definitions
    )


def _root_and_headers(shop: str, base_url: str | None) -> tuple[str, dict[str, str]]:
    """The origin to call, and a ``Host`` header naming the shop when that origin is a sandbox."""
    if base_url:
        return base_url.rstrip("/"), {"Host": shop}
    return f"https://{shop}", {}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _summary(body: Any) -> str:
    """An error answer's code (OAuth's ``error``, GraphQL's ``extensions.code``), never its text."""
    if isinstance(body, dict):
        code = platform_code(body.get("error"))
        if code:
            return code
        errors = body.get("errors")
        if isinstance(errors, list):
            codes = _codes(errors)
            if codes:
                return ", ".join(codes)
    return "no error code"


def _codes(errors: list[Any]) -> list[str]:
    """Distinct GraphQL error codes, at most five, each an identifier (messages are left out)."""
    codes: list[str] = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = platform_code(extensions.get("code")) if isinstance(extensions, dict) else None
        if code and code not in codes:
            codes.append(code)
    return codes[:5]


def _graphql_error(label: str, errors: list[Any]) -> Exception:
    codes = _codes(errors)
    text = f"{label}: {', '.join(codes) or 'error without a code'} ({len(errors)} error(s))"
    if codes and all(code in RETRYABLE_ERROR_CODES for code in codes):
        return Retryable(text)
    return Rejected(text)


def _is_throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    )


def exchange_code(
    shop: str,
    api_key: str,
    api_secret: str,
    code: str,
    *,
    base_url: str | None = None,
    policy: AddressPolicy = STRICT,
    timeout_s: float = 10.0,
) -> tuple[str, str]:
    """Trade an OAuth authorization code for the shop's offline token: ``(access_token, scope)``.

    A code works once; a used, expired or foreign code answers 400, raised as ``Rejected``.
    Not retried here: a lost answer may have consumed the code. ``policy`` says which
    addresses the call may connect to (``AddressPolicy.for_settings(sandbox)``).
    """
    root, headers = _root_and_headers(shop, base_url)
    try:
        with guarded_session(policy) as http:
            response = http.post(
                f"{root}/admin/oauth/access_token",
                json={"client_id": api_key, "client_secret": api_secret, "code": code},
                headers={**headers, "Accept": "application/json"},
                timeout=timeout_s,
            )
    except requests.RequestException as exc:
        raise error_for_exception(exc, "shopify oauth access_token") from exc
    body = _json(response)
    error = error_for_status(
        response.status_code, f"shopify oauth access_token: {_summary(body)}", response.headers
    )
    if error is not None:
        raise error
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise Rejected("shopify oauth access_token: no access_token in the answer")
    return token, str(body.get("scope") or "")


class ShopifyClient:
    """One shop's Admin GraphQL endpoint; pacing state is shared per shop across the process.

    Clients of one shop read the shared state with their own ``clock``, so they must
    use the same one (the default, ``time.monotonic``; tests inject one fake clock).
    """

    def __init__(
        self,
        shop: str,
        token: str,
        api_version: str = DEFAULT_API_VERSION,
        *,
        base_url: str | None = None,
        policy: AddressPolicy = STRICT,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_s: float = 30.0,
    ) -> None:
        self.shop = shop
        self.api_version = api_version
        root, host = _root_and_headers(shop, base_url)
        self.endpoint = f"{root}/admin/api/{api_version}/graphql.json"
        self._headers = {
            **host,
            "X-Shopify-Access-Token": token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        # A sandbox serves many shops on one origin, and two sandboxes may reuse a domain.
        self._bucket_key = f"{root}|{shop}" if base_url else shop
        self._http = kept_session(policy)
        self._timeout_s = timeout_s
        self._clock = clock
        self._sleep = sleep
        self.max_wait_s = max_wait_s

    def __repr__(self) -> str:
        return f"ShopifyClient(shop={self.shop!r}, api_version={self.api_version!r})"

    @property
    def throttle(self) -> ThrottleState | None:
        """The last ``throttleStatus`` seen for this shop by any client in the process."""
        return REGISTRY.state(self._bucket_key)

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run Waybill's document ``document`` (file name without ``.graphql``); returns ``data``."""
        return self._send(load_document(document), variables, document)

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a raw GraphQL document; returns ``data``."""
        return self._send(text, variables, "query")

    # -- the call loop
    def _send(self, text: str, variables: dict[str, Any] | None, label: str) -> dict[str, Any]:
        payload = json.dumps({"query": text, "variables": variables or {}})
        # A mutation whose answer was lost may have happened: the effects ledger decides, not us.
        transport_retries = 0 if is_mutation(text) else 1
        waited = 0.0
        while True:
            waited = self._pace(text, label, waited)
            try:
                response = self._http.post(
                    self.endpoint, data=payload, headers=self._headers, timeout=self._timeout_s
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                if transport_retries > 0:
                    transport_retries -= 1
                    log.info(
                        "shopify.retry_transport", shop=self.shop, document=label, error=type(exc).__name__
                    )
                    continue
                raise error_for_exception(exc, f"shopify {label}") from exc
            except requests.RequestException as exc:
                raise error_for_exception(exc, f"shopify {label}") from exc
            outcome = self._interpret(response, text, label)
            if isinstance(outcome, dict):
                return outcome
            waited = self._wait(outcome, waited, label, "throttled")

    def _pace(self, text: str, label: str, waited: float) -> float:
        """Wait until the bucket can afford this document's expected cost; returns the total waited."""
        cost = REGISTRY.expected_cost(self._bucket_key, text)
        while True:
            wait = REGISTRY.reserve(self._bucket_key, cost, self._clock())
            if wait <= 0:
                return waited
            waited = self._wait(wait + MARGIN_S, waited, label, "pacing")

    def _wait(self, wait: float, waited: float, label: str, why: str) -> float:
        """Sleep ``wait`` seconds if the call's budget allows, else give the job back as ``Retryable``."""
        if waited + wait > self.max_wait_s:
            raise Throttled(f"shopify {label}: throttled, bucket needs {wait:.2f}s more", wait_s=wait)
        log.info("shopify.throttle_wait", shop=self.shop, document=label, wait_s=round(wait, 3), reason=why)
        self._sleep(wait)
        return waited + wait

    def _interpret(self, response: requests.Response, text: str, label: str) -> dict[str, Any] | float:
        """The ``data`` of a good answer, or the seconds to wait before retrying a throttled one."""
        body = _json(response)
        extensions = body.get("extensions") if isinstance(body, dict) else None
        state = REGISTRY.observe(self._bucket_key, text, extensions, self._clock())
        errors = body.get("errors") if isinstance(body, dict) else None
        if response.status_code == 429 or (response.status_code == 200 and _is_throttled(errors)):
            return self._throttle_wait(response, state, text)
        error = error_for_status(response.status_code, f"shopify {label}: {_summary(body)}", response.headers)
        if error is not None:
            raise error
        if not isinstance(body, dict):
            raise Retryable(f"shopify {label}: HTTP {response.status_code} answer is not JSON")
        if errors:
            raise _graphql_error(f"shopify {label}", errors if isinstance(errors, list) else [errors])
        data = body.get("data")
        if not isinstance(data, dict):
            raise Rejected(f"shopify {label}: answer has no data")
        return data

    def _throttle_wait(self, response: requests.Response, state: ThrottleState | None, text: str) -> float:
        """The longer of Retry-After and the refill time from the throttleStatus (both are lower bounds)."""
        after = retry_after_s(response.headers) or 0.0
        refill = 0.0
        if state is not None:
            refill = state.wait_for(REGISTRY.expected_cost(self._bucket_key, text), self._clock())
        wait = max(after, refill + MARGIN_S if refill > 0 else 0.0)
        return wait if wait > 0 else _UNKNOWN_THROTTLE_WAIT_S


def client_for(access: StoreAccess) -> ShopifyClient:
    """The Admin API client of the shop ``access`` describes (its token, API version, sandbox)."""
    return ShopifyClient(
        access.domain,
        access.credentials["access_token"],
        access.api_version or DEFAULT_API_VERSION,
        base_url=access.base_url,
        policy=access.policy or STRICT,
    )
