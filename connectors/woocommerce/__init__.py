"""WooCommerce: REST v3 client, key exchange, webhooks and order mappers."""
