"""Shopify Admin GraphQL API simulator (pinned version 2026-10)."""

from sandbox.shopify.simulator import ShopifySimulator

__all__ = ["ShopifySimulator"]
