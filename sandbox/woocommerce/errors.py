"""WordPress / WooCommerce REST error bodies: ``{"code", "message", "data": {"status"}}``."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from sandbox.woocommerce.phpjson import dumps


class WooError(Exception):
    """A ``WP_Error`` on its way to the client; handlers raise it, the app renders it."""

    def __init__(self, code: str, message: str, status: int, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.extra}}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A REST response encoded as WordPress encodes it."""
    return Response(
        dumps(data), status=status, headers=headers or {}, content_type="application/json; charset=UTF-8"
    )


def error_response(err: WooError) -> Response:
    return json_response(err.body(), err.status)


def invalid_param(name: str, message: str, detail_code: str) -> WooError:
    """WordPress' schema validation failure (``rest_invalid_param``, HTTP 400)."""
    return WooError(
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        400,
        params={name: message},
        details={name: {"code": detail_code, "message": message, "data": None}},
    )


def invalid_id(post_type: str, status: int = 404, message: str = "Invalid ID.") -> WooError:
    """``woocommerce_rest_{post_type}_invalid_id`` as the CRUD controllers build it."""
    return WooError(f"woocommerce_rest_{post_type}_invalid_id", message, status)


# The permission errors of the REST controllers, by what the request tried to do.
PERMISSION_ERRORS: dict[str, tuple[str, str]] = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "read": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}


def permission_error(action: str) -> WooError:
    """What a controller answers when nobody is logged in (``rest_authorization_required_code`` = 401)."""
    code, message = PERMISSION_ERRORS[action]
    return WooError(code, message, 401)


# Bodies for the harness' injected faults and unmatched routes, by HTTP status.
GENERIC_ERRORS: dict[int, tuple[str, str]] = {
    404: ("rest_no_route", "No route was found matching the URL and request method."),
    405: ("rest_no_route", "No route was found matching the URL and request method."),
    429: ("woocommerce_rest_too_many_requests", "Too many requests. Please wait and try again."),
    500: ("internal_server_error", "There has been a critical error on this website."),
    502: ("http_request_failed", "Bad gateway."),
    503: ("http_request_failed", "Service temporarily unavailable."),
}


def generic_error(status: int, message: str) -> WooError:
    code, default_message = GENERIC_ERRORS.get(status, ("internal_server_error", message))
    # WordPress answers an unknown method on a known path with 404 too.
    return WooError(
        code, default_message if status in (404, 405) else message, 404 if status == 405 else status
    )


def batch_too_large(limit: int) -> WooError:
    return WooError(
        "woocommerce_rest_request_entity_too_large",
        f"Unable to accept more than {limit} items for this request.",
        413,
    )
