"""Shopify: Admin GraphQL client, OAuth, webhooks and order mappers."""
