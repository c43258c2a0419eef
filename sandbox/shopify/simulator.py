"""The Shopify Admin GraphQL simulator: one WSGI app serving many shops of one app."""

from __future__ import annotations

import json
import math
from typing import Any

from graphql import GraphQLObjectType, OperationDefinitionNode, execute_sync
from werkzeug.wrappers import Request, Response

from sandbox.harness import Clock, Faults, Simulator, WebhookDispatcher, json_response
from sandbox.shopify import oauth
from sandbox.shopify.allowlist import SCHEMA_VERSION
from sandbox.shopify.context import Context
from sandbox.shopify.cost import MAX_QUERY_COST, PLANS, CostModel, LeakyBucket
from sandbox.shopify.documents import Document, DocumentCache
from sandbox.shopify.ids import IdSource
from sandbox.shopify.mutations_misc import MUTATION_ROOT
from sandbox.shopify.queries import query_root
from sandbox.shopify.seeding import ShopSeeding
from sandbox.shopify.store import ShopData, Subscription
from sandbox.shopify.webhooks import DEFAULT_RETRY_SCHEDULE_S, WebhookSender

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"


class ShopifySimulator(ShopSeeding, Simulator):
    """Admin GraphQL API ``/admin/api/<version>/graphql.json``, OAuth and webhooks for one app.

    Only the pinned version is served; any other version answers 404 as Shopify does
    for versions it does not know. ``throttle_mode`` is ``"graphql"`` (HTTP 200 with a
    THROTTLED error, Shopify's behaviour) or ``"http"`` (HTTP 429 with Retry-After).
    """

    name = "shopify"

    def __init__(
        self,
        api_key: str = "sandbox-api-key",
        api_secret: str = "sandbox-api-secret",
        clock: Clock | None = None,
        faults: Faults | None = None,
        throttle_mode: str = "graphql",
        retry_schedule_s: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE_S,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.api_version = SCHEMA_VERSION
        self.throttle_mode = throttle_mode
        self.documents = DocumentCache()
        super().__init__(clock=clock, faults=faults)
        self.webhooks = WebhookDispatcher(lambda: self.faults, self.clock)
        self.sender = WebhookSender(
            self.webhooks,
            api_secret,
            self.api_version,
            lambda: self.ids,
            self._remove_subscription,
            retry_schedule_s,
        )
        self.route("/admin/api/<version>/graphql.json", self._graphql, methods=["POST"], endpoint="graphql")
        self.route(
            "/admin/oauth/authorize",
            lambda r: oauth.authorize(self, r),
            methods=["GET"],
            endpoint="oauth_authorize",
        )
        self.route(
            "/admin/oauth/access_token",
            lambda r: oauth.access_token(self, r),
            methods=["POST"],
            endpoint="oauth_access_token",
        )

    # -- state
    def reset_state(self) -> None:
        self.state = {"shops": {}}
        self.ids = IdSource()
        self.grants: dict[str, oauth.Grant] = {}
        self.buckets: dict[str, LeakyBucket] = {}

    def snapshot(self) -> Any:
        return {domain: _summary(shop) for domain, shop in self.shops.items()}

    def bucket(self, shop: ShopData) -> LeakyBucket:
        if shop.domain not in self.buckets:
            self.buckets[shop.domain] = LeakyBucket(PLANS[shop.plan], self.clock)
        return self.buckets[shop.domain]

    def shop_for_host(self, host: str) -> ShopData | None:
        return self.shops.get(host.split(":")[0])

    def _remove_subscription(self, shop: ShopData, sub: Subscription) -> None:
        with self._lock:
            if shop.subscriptions.pop(sub.id, None) is not None:
                shop.removed_subscriptions.append(sub)

    # -- platform error bodies for injected faults
    def error_response(self, status: int, message: str) -> Response:
        return json_response({"errors": message}, status)

    def throttled_response(self, retry_after_s: float) -> Response:
        if self.throttle_mode == "http":
            resp = json_response(
                {
                    "errors": "Exceeded 2 calls per second for api client. Reduce request rates "
                    "to resume uninterrupted service."
                },
                429,
            )
            resp.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
            return resp
        return json_response({"errors": [_throttled_error()]})

    # -- GraphQL
    def _authenticate(self, request: Request) -> ShopData | None:
        token = request.headers.get("X-Shopify-Access-Token", "")
        shop = self.shop_for_host(request.host)
        if shop is None:
            shop = next((s for s in self.shops.values() if s.token == token), None)
        if shop is None or not token or shop.token != token:
            return None
        return shop

    def _graphql(self, request: Request, version: str) -> Response:
        if version != self.api_version:
            return json_response({"errors": "Not Found"}, 404)
        shop = self._authenticate(request)
        if shop is None:
            return json_response({"errors": INVALID_TOKEN}, 401)
        body = _read_body(request)
        if body is None:
            return json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        query, variables, operation_name = body
        loaded = self.documents.load(query)
        bucket = self.bucket(shop)
        if not isinstance(loaded, Document):
            return json_response({"errors": loaded, "extensions": _cost(0, 0, bucket)})
        operation = loaded.operation(operation_name)
        if operation is None:
            error = {"message": "An operation name is required", "extensions": {"code": "operationNotFound"}}
            return json_response({"errors": [error], "extensions": _cost(0, 0, bucket)})
        return self._run(shop, bucket, loaded, operation, variables)

    def _root_type(self, operation: OperationDefinitionNode) -> GraphQLObjectType:
        root = self.documents.schema.mutation_type if operation.operation.value == "mutation" else None
        return root or self.documents.schema.query_type  # type: ignore[return-value]

    def _run(
        self,
        shop: ShopData,
        bucket: LeakyBucket,
        doc: Document,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
    ) -> Response:
        costs = CostModel(doc.fragments, variables)
        root_type = self._root_type(operation)
        requested = costs.requested(operation, root_type)
        if requested > MAX_QUERY_COST:
            return json_response(
                {"errors": [_max_cost_error(requested)], "extensions": _cost(requested, None, bucket)}
            )
        if not bucket.take(requested):
            return self._throttled(bucket, requested)
        is_mutation = operation.operation.value == "mutation"
        with self._lock:
            context = Context(shop, self.ids, self.clock.now(), self.emit)
            root = MUTATION_ROOT if is_mutation else query_root(shop)
            result = execute_sync(
                self.documents.schema,
                doc.ast,
                root,
                context,
                variables,
                operation.name.value if operation.name else None,
            )
        actual = requested if result.data is None else costs.actual(operation, root_type, result.data)
        bucket.refund(requested - actual)
        fields = [s.name.value for s in operation.selection_set.selections if hasattr(s, "name")]
        for field in fields:
            self.count(field)
        if is_mutation and fields and self.lose_response(fields[0]):
            return self.lost_response()
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out = {"errors": [e.formatted for e in result.errors], **out}
        out["extensions"] = _cost(requested, actual, bucket)
        return json_response(out)

    def _throttled(self, bucket: LeakyBucket, requested: int) -> Response:
        extensions = _cost(requested, None, bucket)
        if self.throttle_mode == "http":
            resp = json_response({"errors": [_throttled_error()], "extensions": extensions}, 429)
            resp.headers["Retry-After"] = str(max(1, math.ceil(bucket.seconds_until(requested))))
            return resp
        return json_response({"errors": [_throttled_error()], "extensions": extensions})

    # -- webhooks
    def emit(self, shop: ShopData, topic: str, payload: dict[str, Any]) -> None:
        """Raise a webhook event on ``shop`` (delivered by the dispatcher)."""
        self.sender.emit(shop, topic, payload, self.clock.now())

    def set_compliance_uri(self, uri: str | None) -> None:
        """Where the privacy topics go (an app setting on Shopify, not a subscription)."""
        self.sender.compliance_uri = uri

    def blackout_webhooks(self) -> dict[str, int]:
        """What a long outage of the receiving end leaves: every subscription of every shop
        deleted, as Shopify does after a delivery failed its 8 retries over 4 hours. Returns how
        many subscriptions were deleted."""
        deleted = 0
        with self._lock:
            for shop in self.shops.values():
                for sub in list(shop.subscriptions.values()):
                    self._remove_subscription(shop, sub)
                    deleted += 1
        return {"deleted": deleted}

    def deliver_due(self) -> list[Any]:
        """Deliver the webhooks due now on the simulator clock (retries wait for their time)."""
        return self.webhooks.flush(everything=False)


def _read_body(request: Request) -> tuple[str, dict[str, Any], str | None] | None:
    if request.mimetype == "application/graphql":
        return request.get_data(as_text=True), {}, None
    try:
        data = json.loads(request.get_data() or b"null")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        return None
    variables = data.get("variables") or {}
    return data["query"], variables if isinstance(variables, dict) else {}, data.get("operationName")


def _cost(requested: int, actual: int | None, bucket: LeakyBucket) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }


def _throttled_error() -> dict[str, Any]:
    return {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}


def _max_cost_error(cost: int) -> dict[str, Any]:
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
        f"See {RATE_LIMIT_DOCS} for more information on how the cost of a query is calculated."
    )
    return {
        "message": message,
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST},
    }


def _summary(shop: ShopData) -> dict[str, Any]:
    """What the app did to a shop, JSON-able, for ``/_sandbox/state``."""
    return {
        "orders": len(shop.orders),
        "fulfillments": [
            {"id": f.id, "order_id": f.order_id, "tracking": f.tracking, "events": f.events}
            for f in shop.fulfillments.values()
        ],
        "refunds": [
            {"id": r.id, "order_id": r.order_id, "amount": str(r.amount)} for r in shop.refunds.values()
        ],
        "risk_assessments": [
            {"order_id": r.order_id, "risk_level": r.risk_level, "facts": r.facts}
            for r in shop.risk_assessments
        ],
        "inventory_writes": list(shop.inventory_writes),
        "returns": [{"id": r.id, "status": r.status} for r in shop.returns.values()],
        "webhook_subscriptions": [
            {"id": s.id, "topic": s.topic, "uri": s.uri} for s in shop.subscriptions.values()
        ],
    }
