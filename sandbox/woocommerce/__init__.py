"""WooCommerce REST API v3 store simulator (see :class:`WooCommerceSimulator`)."""

from sandbox.woocommerce.simulator import WooCommerceSimulator
from sandbox.woocommerce.webhooks import sign as sign_webhook

__all__ = ["WooCommerceSimulator", "sign_webhook"]
