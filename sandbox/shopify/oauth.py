"""The OAuth install flow: authorize (auto-approved) and the code-for-token exchange."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.harness import json_response

if TYPE_CHECKING:
    from sandbox.shopify.simulator import ShopifySimulator


@dataclass
class Grant:
    """An authorization code not yet exchanged."""

    shop_domain: str
    scope: str


def query_hmac(secret: str, params: dict[str, str]) -> str:
    """Hex HMAC-SHA256 over the other parameters sorted and joined ``k=v&...``."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def authorize(sim: ShopifySimulator, request: Request) -> Response:
    """Approve the install at once and send the browser back to ``redirect_uri``."""
    sim.count("oauth.authorize")
    shop = sim.shop_for_host(request.host) or sim.shops.get(request.args.get("shop", ""))
    if shop is None:
        return _error(404, "invalid_request", "Unknown shop")
    if request.args.get("client_id") != sim.api_key:
        return _error(400, "invalid_request", "Oauth error invalid_request: The client_id is not valid")
    redirect_uri = request.args.get("redirect_uri")
    if not redirect_uri:
        return _error(400, "invalid_request", "Oauth error invalid_request: The redirect_uri is missing")
    code = secrets.token_hex(16)
    sim.grants[code] = Grant(shop.domain, request.args.get("scope", ""))
    store = shop.domain.removesuffix(".myshopify.com")
    params = {
        "code": code,
        "host": base64.b64encode(f"admin.shopify.com/store/{store}".encode()).decode().rstrip("="),
        "shop": shop.domain,
        "state": request.args.get("state", ""),
        "timestamp": str(int(sim.clock.now())),
    }
    params["hmac"] = query_hmac(sim.api_secret, params)
    separator = "&" if "?" in redirect_uri else "?"
    return Response(status=302, headers={"Location": f"{redirect_uri}{separator}{urlencode(params)}"})


def _form(request: Request) -> dict[str, Any]:
    if request.is_json:
        return dict(request.get_json(silent=True) or {})
    return dict(request.form) or dict(request.args)


def access_token(sim: ShopifySimulator, request: Request) -> Response:
    """Exchange a code (once) for the shop's offline access token."""
    sim.count("oauth.access_token")
    data = _form(request)
    if data.get("client_id") != sim.api_key or not hmac.compare_digest(
        str(data.get("client_secret", "")), sim.api_secret
    ):
        return _error(400, "invalid_client", "Client credentials are invalid")
    grant = sim.grants.pop(str(data.get("code", "")), None)
    if grant is None:
        return _error(400, "invalid_request", "The authorization code was not found or was already used")
    shop = sim.shops[grant.shop_domain]
    if request.host.split(":")[0] in sim.shops and request.host.split(":")[0] != shop.domain:
        return _error(400, "invalid_request", "The authorization code was issued for another shop")
    shop.scopes = grant.scope
    sim.reinstall(shop)
    return json_response({"access_token": shop.token, "scope": grant.scope})
