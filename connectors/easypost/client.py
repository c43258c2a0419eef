"""EasyPost adapter: the official ``easypost`` client, with every failure mapped to Waybill's errors.

Thin on purpose: requests are built and answers read by the pure functions in
``connectors/easypost/mappers.py``. EasyPost offers no idempotency keys, so nothing
here retries a write: a lost ``buy`` answer surfaces as ``Retryable`` and the caller
(the effects ledger in sync/) retrieves the shipment before buying again. Two answers
that mean "already done" are turned into the state they describe instead of an error:
buying a shipment that has postage returns its label, and refunding one whose refund
was already requested returns its refund status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import structlog
from easypost.easypost_client import EasyPostClient
from easypost.errors.api.api_error import ApiError
from easypost.errors.api.http_error import HttpError
from easypost.errors.api.timeout_error import TimeoutError
from easypost.errors.general.easypost_error import EasyPostError
from easypost.requestor import RequestMethod, Requestor

from connectors.easypost import mappers
from connectors.easypost.mappers import ShipmentState
from connectors.errors import Rejected, error_for_status, platform_code
from core.addresses import Address
from core.errors import Permanent, Retryable
from core.rates import RatePolicy, choose_rate
from core.shipping import AddressCheck, Label, Parcel, Rate
from core.tracking import TrackerReport

__all__ = ["EasyPost", "ShipmentState"]

log = structlog.get_logger("waybill.easypost")
T = TypeVar("T")

PRODUCTION_BASE = "https://api.easypost.com"
API_PATH = "/v2"
POSTAGE_EXISTS = "SHIPMENT.POSTAGE.EXISTS"
REFUND_UNAVAILABLE = "SHIPMENT.REFUND.UNAVAILABLE"
LIST_PAGE_SIZE = 100


def environment_read_once(http: requests.Session) -> None:
    """Make ``http`` read the process's environment (proxies, ``no_proxy``, a CA bundle) once
    per origin rather than on every call: ``requests`` walks every environment variable
    twice a request to find them (a tenth of the library's CPU per EasyPost call). The
    answer is the same for the process's life; a call that names its own proxies is merged
    afresh."""
    merge: Callable[..., Any] = http.merge_environment_settings
    known: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merged(url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies or not isinstance(url, str):
            return merge(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        if key not in known:
            known[key] = merge(url, proxies, stream, verify, cert)
        settings = known[key]
        return {**settings, "proxies": dict(settings["proxies"])}

    http.merge_environment_settings = merged  # type: ignore[method-assign,assignment]


class EasyPost:
    """One EasyPost account (one API key). Safe to share between threads."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 30,
        *,
        customs_signer: str = "Shipping Manager",
        max_list_pages: int = 10,
    ) -> None:
        root = (base_url or PRODUCTION_BASE).rstrip("/")
        self.api_base = root if root.endswith(API_PATH) else root + API_PATH
        self._client = EasyPostClient(api_key, api_base=self.api_base, timeout=timeout_s)  # type: ignore[arg-type]
        environment_read_once(self._client._requests_session)
        self.customs_signer = customs_signer
        self.max_list_pages = max_list_pages
        # The library raises without the response headers (Retry-After) or, for a body that
        # is not JSON, without the status: a response hook keeps both, per thread.
        self._last = threading.local()
        self._client.subscribe_to_response_hook(self._remember_response)  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        return f"EasyPost(api_base={self.api_base!r})"

    # -- addresses
    def verify_address(self, address: Address) -> AddressCheck:
        """Strict delivery verification; an undeliverable address is an answer, not an error."""
        try:
            verified = self._call(
                "address.create_and_verify",
                lambda: self._post(
                    "/addresses/create_and_verify", {"address": mappers.address_params(address)}
                )["address"],
            )
        except _VerifyFailed as failed:
            return mappers.failed_check(failed.errors, address)
        return mappers.verified_check(verified)

    # -- shipments
    def create_shipment(
        self,
        to: Address,
        from_: Mapping[str, str],
        parcel: Parcel,
        customs: Sequence[mappers.CustomsLineLike] | None,
        reference: str,
    ) -> tuple[str, list[Rate]]:
        """Create a shipment (not bought); its id and every rate the carriers offered."""
        params = mappers.shipment_params(to, from_, parcel, customs, reference, self.customs_signer)
        shipment = self._call("shipment.create", lambda: self._post("/shipments", {"shipment": params}))
        state = mappers.to_state(shipment)
        if not state.rates and state.messages:
            log.info("easypost.no_rates", shipment_id=state.id, messages=list(state.messages))
        return state.id, state.rates

    def retrieve_shipment(self, shipment_id: str) -> ShipmentState:
        shipment = self._call("shipment.retrieve", lambda: self._client.shipment.retrieve(shipment_id))
        return mappers.to_state(shipment)

    def find_by_reference(self, reference: str) -> ShipmentState | None:
        """The shipment created with ``reference`` (newest first; a bought one wins), or None.

        For recovery after a create whose answer was lost. Looks at the newest
        ``max_list_pages`` pages only: a lost create is recovered within minutes.
        """
        found: list[ShipmentState] = []
        before: str | None = None
        for _ in range(self.max_list_pages):
            params: dict[str, Any] = {"page_size": LIST_PAGE_SIZE}
            if before:
                params["before_id"] = before
            page = self._call("shipment.list", lambda p=params: self._client.shipment.all(**p))  # type: ignore[misc]
            shipments = page.get("shipments") or []
            found += [mappers.to_state(s) for s in shipments if s.get("reference") == reference]
            if not shipments or not page.get("has_more"):
                break
            before = str(shipments[-1]["id"])
        bought = [s for s in found if s.label is not None]
        return (bought or found)[0] if found else None

    def buy(self, shipment_id: str, rate_id: str, insurance: Decimal | None = None) -> Label:
        """Buy ``rate_id``; a shipment that already has postage answers with its existing label."""
        params: dict[str, Any] = {"rate": {"id": rate_id}}
        if insurance is not None:
            params["insurance"] = str(insurance)
        try:
            shipment = self._call("shipment.buy", lambda: self._post(f"/shipments/{shipment_id}/buy", params))
        except _CodedRejection as exc:
            if exc.code != POSTAGE_EXISTS:
                raise
            existing = self.retrieve_shipment(shipment_id).label
            if existing is None:
                raise
            log.info("easypost.buy_found_label", shipment_id=shipment_id)
            return existing
        label = mappers.to_label(shipment)
        if label is None:
            raise Permanent(f"easypost shipment.buy: {shipment_id} answered without postage")
        return label

    # -- return labels
    def buy_return_label(
        self,
        to_address: Address,
        from_address: Mapping[str, str],
        parcel: Parcel,
        rates: RatePolicy,
        reference: str,
    ) -> Label:
        """A return label: an ``is_return`` shipment, its rate chosen by ``rates``, bought.

        As EasyPost documents returns, the addresses are those of the original shipment:
        ``to_address`` the customer, ``from_address`` the merchant's return address; EasyPost
        switches them, so the label carries the parcel from the customer to the merchant.
        Not idempotent: after a lost answer ask :meth:`find_return_label` (by ``reference``).
        """
        params = mappers.shipment_params(
            to_address, from_address, parcel, None, reference, self.customs_signer
        )
        params["is_return"] = True
        shipment = self._call("shipment.create", lambda: self._post("/shipments", {"shipment": params}))
        return self._buy_chosen(mappers.to_state(shipment), rates)

    def find_return_label(self, reference: str, rates: RatePolicy) -> Label | None:
        """The return label made with ``reference``, finished: bought if its shipment was
        created but not bought; None when there is no such shipment (create it again)."""
        state = self.find_by_reference(reference)
        if state is None:
            return None
        return state.label or self._buy_chosen(state, rates)

    def _buy_chosen(self, state: ShipmentState, rates: RatePolicy) -> Label:
        choice = choose_rate(state.rates, rates)
        if choice.chosen is None:
            detail = "; ".join(state.messages) or choice.reason
            raise Permanent(f"easypost return label: no rate to buy for {state.id} ({detail})")
        label = self.buy(state.id, choice.chosen.rate_id)
        return replace(label, extra={**label.extra, "is_return": True})

    def refund(self, shipment_id: str) -> str:
        """Void the label: EasyPost's ``refund_status`` ("submitted", later "refunded" or "rejected")."""
        try:
            shipment = self._call("shipment.refund", lambda: self._client.shipment.refund(shipment_id))
        except _CodedRejection as exc:
            if exc.code != REFUND_UNAVAILABLE:
                raise
            status = self.retrieve_shipment(shipment_id).refund_status
            if status is None:
                raise
            return status
        return str(shipment.get("refund_status") or "submitted")

    # -- trackers
    def create_tracker(self, tracking_code: str, carrier: str) -> tuple[str, str | None]:
        """Start (or find: EasyPost answers with the existing one) a tracker: its id and public URL."""
        tracker = self._call(
            "tracker.create",
            lambda: self._client.tracker.create(tracking_code=tracking_code, carrier=carrier),
        )
        return mappers.tracker_ref(tracker)

    def retrieve_tracker(self, tracker_id: str) -> TrackerReport:
        """What the carrier says now about one parcel (a missed Event recovered by asking)."""
        tracker = self._call("tracker.retrieve", lambda: self._client.tracker.retrieve(tracker_id))
        return mappers.tracker_report(tracker)

    # -- the one place failures are classified
    def _remember_response(self, **kwargs: Any) -> None:
        self._last.status = kwargs.get("http_status")
        self._last.headers = kwargs.get("headers")

    def _post(self, path: str, params: dict[str, Any]) -> Any:
        """POST through the library's requestor (its timeouts, errors and response hooks) and
        return the answer's JSON as it came: the busiest calls (verify, create, buy) skip
        building the library's objects, which ``_call`` would only turn back into dicts."""
        requestor = Requestor(self._client)  # type: ignore[no-untyped-call]
        return requestor.request(method=RequestMethod.POST, url=path, params=params)

    def _call(self, op: str, send: Callable[[], Any]) -> dict[str, Any]:
        self._last.status = self._last.headers = None
        try:
            answer = send()
        except TimeoutError as exc:
            raise Retryable(f"easypost {op}: timed out") from exc
        except HttpError as exc:  # transport: connection refused or reset, TLS, DNS
            raise Retryable(f"easypost {op}: connection failed") from exc
        except ApiError as exc:
            raise self._classify(op, exc) from exc
        except EasyPostError as exc:  # a body that is not JSON (a proxy's page, a lost answer)
            raise self._classify(op, exc) from exc
        if hasattr(answer, "to_dict"):
            return dict(answer.to_dict())
        return dict(answer)

    def _classify(self, op: str, exc: EasyPostError) -> Exception:
        status = getattr(exc, "http_status", None) or self._last.status
        code = getattr(exc, "code", None)
        if code == mappers.ADDRESS_VERIFY_FAILURE:
            return _VerifyFailed(getattr(exc, "errors", None) or [])
        if not isinstance(status, int):
            return Retryable(f"easypost {op}: unreadable answer")
        message = f"easypost {op}: {platform_code(code) or 'no error code'}"
        error = error_for_status(status, message, self._last.headers)
        if error is None:  # a 2xx whose body did not parse
            return Retryable(f"easypost {op}: HTTP {status} answer is not JSON")
        if isinstance(error, Rejected) and code:
            return _CodedRejection(str(error), code)
        return error


class _CodedRejection(Rejected):
    """A refusal carrying EasyPost's error code (``SHIPMENT.POSTAGE.EXISTS``, ...)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class _VerifyFailed(Rejected):
    """ADDRESS.VERIFY.FAILURE: ``verify_address`` turns it into an AddressCheck; elsewhere a refusal."""

    def __init__(self, errors: Sequence[Any]) -> None:
        super().__init__("address verification failed")
        self.errors = list(errors)
