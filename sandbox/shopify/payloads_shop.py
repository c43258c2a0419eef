"""Webhook bodies for the catalog, inventory, shop and privacy topics."""

from __future__ import annotations

from typing import Any

from sandbox.shopify.ids import gid, iso_offset
from sandbox.shopify.store import Level, Product, ShopData, Variant


def inventory_level(level: Level) -> dict[str, Any]:
    """inventory_levels/update body."""
    return {
        "inventory_item_id": level.item_id,
        "location_id": level.location_id,
        "available": level.available,
        "updated_at": iso_offset(level.updated_at),
        "admin_graphql_api_id": gid("InventoryLevel", level.location_id)
        + f"?inventory_item_id={level.item_id}",
    }


def _variant(shop: ShopData, variant: Variant) -> dict[str, Any]:
    available = sum(
        lv.available for (item, _), lv in shop.levels.items() if item == variant.inventory_item_id
    )
    return {
        "admin_graphql_api_id": gid("ProductVariant", variant.id),
        "barcode": None,
        "compare_at_price": None,
        "created_at": iso_offset(variant.created_at),
        "id": variant.id,
        "inventory_policy": "deny",
        "position": variant.position,
        "price": str(variant.price),
        "product_id": variant.product_id,
        "sku": variant.sku,
        "taxable": True,
        "title": variant.title,
        "updated_at": iso_offset(variant.updated_at),
        "option1": variant.title,
        "option2": None,
        "option3": None,
        "image_id": None,
        "inventory_item_id": variant.inventory_item_id,
        "inventory_quantity": available,
        "old_inventory_quantity": available,
    }


def product(shop: ShopData, product: Product) -> dict[str, Any]:
    """products/update body."""
    variants = [shop.variants[v] for v in product.variant_ids]
    return {
        "admin_graphql_api_id": gid("Product", product.id),
        "body_html": "",
        "created_at": iso_offset(product.created_at),
        "handle": product.handle,
        "id": product.id,
        "product_type": product.product_type,
        "published_at": iso_offset(product.created_at),
        "template_suffix": None,
        "title": product.title,
        "updated_at": iso_offset(product.updated_at),
        "vendor": product.vendor,
        "status": product.status.lower(),
        "published_scope": "web",
        "tags": "",
        "variants": [_variant(shop, v) for v in variants],
        "options": [],
        "images": [],
        "image": None,
        "media": [],
        "variant_gids": [
            {
                "admin_graphql_api_id": gid("ProductVariant", v.id),
                "updated_at": iso_offset(v.updated_at).replace("+00:00", ".000Z"),
            }
            for v in variants
        ],
        "has_variants_that_requires_components": False,
        "category": None,
    }


def shop(shop: ShopData, primary_location_id: int | None) -> dict[str, Any]:
    """app/uninstalled body (the shop resource)."""
    plan_names = {
        "standard": "basic",
        "advanced": "advanced",
        "plus": "shopify_plus",
        "enterprise": "enterprise",
    }
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "province": "New York",
        "country": "US",
        "address1": "1 Sandbox Way",
        "zip": "10001",
        "city": "New York",
        "source": None,
        "phone": "5555550100",
        "latitude": None,
        "longitude": None,
        "primary_locale": "en",
        "address2": None,
        "created_at": None,
        "updated_at": None,
        "country_code": "US",
        "country_name": "United States",
        "currency": shop.currency,
        "customer_email": shop.email,
        "timezone": "(GMT-05:00) Eastern Time (US & Canada)",
        "iana_timezone": shop.timezone,
        "shop_owner": "Sandbox Owner",
        "money_format": "${{amount}}",
        "money_with_currency_format": f"${{{{amount}}}} {shop.currency}",
        "weight_unit": "kg",
        "province_code": "NY",
        "taxes_included": False,
        "auto_configure_tax_inclusivity": None,
        "tax_shipping": None,
        "county_taxes": True,
        "plan_display_name": shop.plan.title(),
        "plan_name": plan_names.get(shop.plan, shop.plan),
        "has_discounts": False,
        "has_gift_cards": False,
        "myshopify_domain": shop.domain,
        "google_apps_domain": None,
        "google_apps_login_enabled": None,
        "money_in_emails_format": "${{amount}}",
        "money_with_currency_in_emails_format": f"${{{{amount}}}} {shop.currency}",
        "eligible_for_payments": True,
        "requires_extra_payments_agreement": False,
        "password_enabled": False,
        "has_storefront": True,
        "finances": True,
        "primary_location_id": primary_location_id,
        "checkout_api_supported": True,
        "multi_location_enabled": True,
        "setup_required": False,
        "pre_launch_enabled": False,
        "enabled_presentment_currencies": [shop.currency],
        "marketing_sms_consent_enabled_at_checkout": False,
        "transactional_sms_disabled": False,
    }


def customers_data_request(
    shop: ShopData, customer: dict[str, Any], order_ids: list[int], request_id: int
) -> dict[str, Any]:
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "customer": customer,
        "orders_requested": list(order_ids),
        "data_request": {"id": request_id},
    }


def customers_redact(shop: ShopData, customer: dict[str, Any], order_ids: list[int]) -> dict[str, Any]:
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "customer": customer,
        "orders_to_redact": list(order_ids),
    }


def shop_redact(shop: ShopData) -> dict[str, Any]:
    return {"shop_id": shop.id, "shop_domain": shop.domain}
