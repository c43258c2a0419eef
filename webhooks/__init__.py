"""The inbound HTTP edge: verify, dedupe, commit to the inbox, enqueue, answer.

No outside call happens here; platforms get their 2xx in milliseconds.
"""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from webhooks import easypost, shopify, woocommerce  # noqa: E402  (routes register on bp)

__all__ = ["bp", "easypost", "shopify", "woocommerce"]
