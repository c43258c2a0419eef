"""REST handlers for ``settings/<group>`` and ``settings/<group>/<id>``: the measuring units.

Only the ``products`` group's two measurement settings are modelled, with the shape
``WC_REST_Setting_Options_Controller`` gives them: ``id``, ``label``, ``description``,
``type``, ``default``, ``options``, ``tip``, ``value`` and ``_links`` (self, collection).
A value outside ``options`` is refused as WooCommerce refuses it (400
``rest_setting_value_invalid``).
"""

from __future__ import annotations

from typing import Any

from sandbox.woocommerce.api import Ctx, Reply
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.store import Store

# id -> (label, description, default, options): as class-wc-settings-products.php declares them.
SETTINGS: dict[str, dict[str, tuple[str, str, str, tuple[str, ...]]]] = {
    "products": {
        "woocommerce_weight_unit": (
            "Weight unit",
            "This controls what unit you will define weights in.",
            "kg",
            ("kg", "g", "lbs", "oz"),
        ),
        "woocommerce_dimension_unit": (
            "Dimensions unit",
            "This controls what unit you will define lengths in.",
            "cm",
            ("m", "cm", "mm", "in", "yd"),
        ),
    }
}


def _group(group_id: str) -> dict[str, tuple[str, str, str, tuple[str, ...]]]:
    group = SETTINGS.get(group_id)
    if group is None:
        raise WooError("rest_setting_setting_group_invalid", "Invalid setting group.", 404)
    return group


def _declared(group_id: str, setting_id: str) -> tuple[str, str, str, tuple[str, ...]]:
    declared = _group(group_id).get(setting_id)
    if declared is None:
        raise WooError("rest_setting_setting_invalid", "Invalid setting.", 404)
    return declared


def setting_json(store: Store, group_id: str, setting_id: str) -> dict[str, Any]:
    label, description, default, options = _declared(group_id, setting_id)
    base = f"{store.home_url.rstrip('/')}/wp-json/wc/v3/settings/{group_id}"
    return {
        "id": setting_id,
        "label": label,
        "description": description,
        "type": "select",
        "default": default,
        "options": {option: option for option in options},
        "tip": description,
        "value": store.settings.get(setting_id, default),
        "_links": {
            "self": [{"href": f"{base}/{setting_id}"}],
            "collection": [{"href": base}],
        },
    }


def set_setting(store: Store, group_id: str, setting_id: str, value: Any) -> None:
    """Save a setting as WP admin or the REST API would (a select takes only one of its options)."""
    _label, _description, _default, options = _declared(group_id, setting_id)
    if value not in options:
        raise WooError("rest_setting_value_invalid", "An invalid setting value was passed.", 400)
    store.settings[setting_id] = value


def list_settings(ctx: Ctx, group_id: str) -> Reply:
    return [setting_json(ctx.store, group_id, sid) for sid in _group(group_id)], 200, {}


def get_setting(ctx: Ctx, group_id: str, setting_id: str) -> Reply:
    return setting_json(ctx.store, group_id, setting_id), 200, {}


def update_setting(ctx: Ctx, group_id: str, setting_id: str) -> Reply:
    set_setting(ctx.store, group_id, setting_id, ctx.params().get("value"))
    return setting_json(ctx.store, group_id, setting_id), 200, {}


# (path under wc/v3, methods, operation name, permission action, handler)
ROUTES: list[tuple[str, tuple[str, ...], str, str, Any]] = [
    ("settings/<group_id>", ("GET",), "settings.list", "list", list_settings),
    ("settings/<group_id>/<setting_id>", ("GET",), "settings.get", "list", get_setting),
    ("settings/<group_id>/<setting_id>", ("POST", "PUT", "PATCH"), "settings.update", "edit", update_setting),
]
