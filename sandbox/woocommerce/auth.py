"""Consumer key authentication, following WooCommerce's ``WC_REST_Authentication``.

Over HTTPS (``is_ssl``) WooCommerce first tries ``consumer_key``/``consumer_secret``
query parameters, then HTTP Basic. When that yields no user it tries OAuth 1.0a
one-legged over the query string, form body and ``Authorization: OAuth`` header. Over
plain HTTP only OAuth is looked at: Basic credentials are silently ignored and the
request goes on unauthenticated (and the endpoint then answers 401).
"""

from __future__ import annotations

import base64
import hmac
import itertools
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request

from sandbox.woocommerce.errors import WooError

OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
OAUTH_WINDOW_S = 15 * 60
PERMISSIONS = ("read", "write", "read_write")
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')
# Which key permission each HTTP method needs (``check_permissions``).
_METHOD_NEEDS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "write",
}


def _auth_error(message: str) -> WooError:
    return WooError("woocommerce_rest_authentication_error", message, 401)


@dataclass
class ApiKey:
    """A row of ``woocommerce_api_keys``."""

    key_id: int
    user_id: int
    description: str
    permissions: str
    consumer_key: str
    consumer_secret: str
    nonces: dict[str, float] = field(default_factory=dict)

    def allows(self, method: str) -> bool:
        need = _METHOD_NEEDS.get(method.upper())
        if need is None:
            return method.upper() == "OPTIONS"
        return self.permissions in (need, "read_write")


def rawurlencode(value: str) -> str:
    """PHP ``rawurlencode``: RFC 3986, everything but ``A-Za-z0-9-_.~`` escaped."""
    return quote(value, safe="")


def oauth_signature(method: str, base_url: str, params: dict[str, str], secret: str, algorithm: str) -> str:
    """The signature WooCommerce expects (``check_oauth_signature``), base64 encoded."""
    pairs = sorted((k, v) for k, v in params.items() if k != "oauth_signature")
    joined = "%26".join(rawurlencode(f"{rawurlencode(k)}={rawurlencode(v)}") for k, v in pairs)
    string_to_sign = f"{method.upper()}&{rawurlencode(base_url)}&{joined}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), algorithm).digest()
    return base64.b64encode(digest).decode()


class KeyStore:
    """The store's API keys and the authentication of one request."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self._ids = itertools.count(1)

    def create(self, permissions: str = "read_write", user_id: int = 1, description: str = "") -> ApiKey:
        if permissions not in PERMISSIONS:
            raise ValueError(f"permissions must be one of {PERMISSIONS}")
        key = ApiKey(
            key_id=next(self._ids),
            user_id=user_id,
            description=description,
            permissions=permissions,
            consumer_key="ck_" + secrets.token_hex(20),
            consumer_secret="cs_" + secrets.token_hex(20),
        )
        self.keys[key.consumer_key] = key
        return key

    def delete(self, key_id: int) -> None:
        for ck, key in list(self.keys.items()):
            if key.key_id == key_id:
                del self.keys[ck]

    def authenticate(self, request: Request, is_ssl: bool, home_url: str, now: float) -> ApiKey | None:
        """The key behind the request, None when anonymous; raises the 401 WooCommerce sends."""
        error: WooError | None = None
        key: ApiKey | None = None
        if is_ssl:
            key, error = self._basic(request)
        if key is None:
            params = self._oauth_params(request)
            if params:
                key, error = self._oauth(request, params, is_ssl, home_url, now)
        if error is not None:
            raise error
        if key is not None and not key.allows(request.method):
            kind = "read" if _METHOD_NEEDS.get(request.method.upper()) == "read" else "write"
            raise _auth_error(f"The API key provided does not have {kind} permissions.")
        return key

    def _basic(self, request: Request) -> tuple[ApiKey | None, WooError | None]:
        ck, cs = request.args.get("consumer_key", ""), request.args.get("consumer_secret", "")
        if not (ck and cs) and request.authorization is not None:
            ck = request.authorization.username or ""
            cs = request.authorization.password or ""
        if not (ck and cs):
            return None, None
        key = self.keys.get(ck)
        if key is None:
            return None, None
        if not hmac.compare_digest(key.consumer_secret, cs):
            return None, _auth_error("Consumer secret is invalid.")
        return key, None

    @staticmethod
    def _oauth_params(request: Request) -> dict[str, str]:
        # PHP's $_GET/$_POST keep the last of repeated names (the woocommerce client repeats them).
        params = dict(request.args.items(multi=True))
        params.update(request.form.items(multi=True))
        header = (request.headers.get("Authorization") or "").strip()
        if header.startswith("OAuth "):
            for match in _HEADER_PARAM.finditer(header):
                params[match.group(1)] = unquote(match.group(3) or match.group(4))
        return params if any(params.get(name) for name in OAUTH_PARAMS) else {}

    def _oauth(
        self, request: Request, params: dict[str, str], is_ssl: bool, home_url: str, now: float
    ) -> tuple[ApiKey | None, WooError | None]:
        missing = [name for name in OAUTH_PARAMS if not params.get(name)]
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            message = f"Missing OAuth {noun} {', '.join(missing)}"
            return None, WooError("woocommerce_rest_authentication_missing_parameter", message, 401)
        key = self.keys.get(params["oauth_consumer_key"])
        if key is None:
            return None, _auth_error("Consumer key is invalid.")
        error = self._check_signature(request, params, key, is_ssl, home_url)
        if error is None:
            error = self._check_timestamp_and_nonce(
                key, params["oauth_timestamp"], params["oauth_nonce"], now
            )
        return (None, error) if error is not None else (key, None)

    @staticmethod
    def _check_signature(
        request: Request, params: dict[str, str], key: ApiKey, is_ssl: bool, home_url: str
    ) -> WooError | None:
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return _auth_error("Invalid signature - signature method is invalid.")
        scheme_home = re.sub(r"^https?://", "https://" if is_ssl else "http://", home_url.rstrip("/"))
        base_url = scheme_home + request.path
        provided = unquote(params["oauth_signature"].replace(" ", "+"))
        algorithm = method.removeprefix("HMAC-").lower()
        expected = oauth_signature(request.method, base_url, params, key.consumer_secret, algorithm)
        if not hmac.compare_digest(expected, provided):
            return _auth_error("Invalid signature - provided signature does not match.")
        return None

    @staticmethod
    def _check_timestamp_and_nonce(key: ApiKey, timestamp: str, nonce: str, now: float) -> WooError | None:
        try:
            ts = float(timestamp)
        except ValueError:
            ts = 0.0
        if ts < now - OAUTH_WINDOW_S or ts > now + OAUTH_WINDOW_S:
            return _auth_error("Invalid timestamp.")
        if nonce in key.nonces:
            return _auth_error("Invalid nonce - nonce has already been used.")
        key.nonces = {n: t for n, t in key.nonces.items() if t >= now - OAUTH_WINDOW_S}
        key.nonces[nonce] = ts
        return None
