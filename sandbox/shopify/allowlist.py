"""The part of the Admin API schema that the simulator serves.

Per output type, the fields Waybill reads (or the simulator's own tests use). The
trimming script keeps these fields with all their arguments, keeps every input
type, enum and scalar reachable from them whole, and adds to each ``*Connection``
type its ``edges``/``nodes``/``pageInfo`` and the matching ``*Edge`` type.
"""

from __future__ import annotations

SCHEMA_VERSION = "2026-10"

FIELDS: dict[str, tuple[str, ...]] = {
    "QueryRoot": (
        "shop", "locations", "location", "productVariants", "inventoryItems", "inventoryItem",
        "order", "orders", "return", "webhookSubscriptions",
    ),
    "Mutation": (
        "fulfillmentCreate", "fulfillmentEventCreate", "fulfillmentTrackingInfoUpdate",
        "inventorySetQuantities", "orderRiskAssessmentCreate", "refundCreate",
        "returnApproveRequest", "returnClose", "returnCreate", "returnDeclineRequest", "returnProcess",
        "webhookSubscriptionCreate", "webhookSubscriptionDelete",
    ),
    "Shop": ("id", "name", "email", "myshopifyDomain", "currencyCode", "ianaTimezone", "plan"),
    "ShopPlan": ("publicDisplayName", "shopifyPlus", "partnerDevelopment"),
    "Location": ("id", "legacyResourceId", "name", "isActive", "fulfillsOnlineOrders", "address"),
    "LocationAddress": ("address1", "address2", "city", "provinceCode", "countryCode", "zip"),
    "Product": ("id", "legacyResourceId", "title", "handle", "status", "updatedAt"),
    "ProductVariant": (
        "id", "legacyResourceId", "sku", "title", "price", "updatedAt", "product", "inventoryItem",
    ),
    "InventoryItem": ("id", "legacyResourceId", "sku", "tracked", "inventoryLevels"),
    "InventoryLevel": ("id", "updatedAt", "location", "item", "quantities"),
    "InventoryQuantity": ("name", "quantity", "updatedAt"),
    "InventoryAdjustmentGroup": ("id", "createdAt", "reason", "referenceDocumentUri", "changes"),
    "InventoryChange": ("name", "delta", "quantityAfterChange", "item", "location"),
    "Order": (
        "id", "legacyResourceId", "name", "email", "createdAt", "updatedAt", "processedAt",
        "cancelledAt", "cancelReason", "closed", "test", "tags", "note", "displayFinancialStatus",
        "displayFulfillmentStatus", "currencyCode", "totalPriceSet", "shippingAddress", "lineItems",
        "fulfillmentOrders",
    ),
    "MailingAddress": (
        "name", "company", "address1", "address2", "city", "provinceCode", "countryCode", "zip", "phone",
    ),
    "MoneyBag": ("shopMoney",),
    "MoneyV2": ("amount", "currencyCode"),
    "LineItem": (
        "id", "sku", "name", "quantity", "currentQuantity", "requiresShipping", "variant",
        "originalUnitPriceSet",
    ),
    "FulfillmentOrder": ("id", "status", "requestStatus", "assignedLocation", "lineItems"),
    "FulfillmentOrderAssignedLocation": ("name", "location"),
    "FulfillmentOrderLineItem": ("id", "totalQuantity", "remainingQuantity", "lineItem"),
    "Fulfillment": ("id", "status", "createdAt", "trackingInfo", "fulfillmentLineItems"),
    "FulfillmentLineItem": ("id", "quantity", "lineItem"),
    "FulfillmentTrackingInfo": ("company", "number", "url"),
    "FulfillmentEvent": ("id", "status", "happenedAt"),
    "OrderRiskAssessment": ("riskLevel", "facts"),
    "RiskFact": ("description", "sentiment"),
    "Return": ("id", "name", "status", "order"),
    "Refund": ("id", "createdAt", "note", "totalRefundedSet", "refundLineItems"),
    "RefundLineItem": ("quantity", "restockType", "lineItem"),
    "WebhookSubscription": ("id", "topic", "uri", "format", "createdAt", "updatedAt"),
    "PageInfo": ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    "UserError": ("field", "message"),
    "InventorySetQuantitiesUserError": ("code", "field", "message"),
    "OrderRiskAssessmentCreateUserError": ("code", "field", "message"),
    "ReturnUserError": ("code", "field", "message"),
    "FulfillmentCreatePayload": ("fulfillment", "userErrors"),
    "FulfillmentEventCreatePayload": ("fulfillmentEvent", "userErrors"),
    "FulfillmentTrackingInfoUpdatePayload": ("fulfillment", "userErrors"),
    "InventorySetQuantitiesPayload": ("inventoryAdjustmentGroup", "userErrors"),
    "OrderRiskAssessmentCreatePayload": ("orderRiskAssessment", "userErrors"),
    "RefundCreatePayload": ("refund", "userErrors"),
    "ReturnApproveRequestPayload": ("return", "userErrors"),
    "ReturnClosePayload": ("return", "userErrors"),
    "ReturnCreatePayload": ("return", "userErrors"),
    "ReturnDeclineRequestPayload": ("return", "userErrors"),
    "ReturnProcessPayload": ("return", "userErrors"),
    "WebhookSubscriptionCreatePayload": ("webhookSubscription", "userErrors"),
    "WebhookSubscriptionDeletePayload": ("deletedWebhookSubscriptionId", "userErrors"),
}

# Directives kept besides the built-in ones.
DIRECTIVES: tuple[str, ...] = ("idempotent",)
