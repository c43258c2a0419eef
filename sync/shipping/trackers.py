"""Carrier trackers of bought labels. EasyPost starts one with every label it sells and
returns it with the purchase (``sync.shipping.labels`` keeps its id and public page with
the label); ``start_tracker`` starts one, once, for a label that came without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.shipping import Label
from db.effects import Progress
from db.models import Shipment, utcnow

if TYPE_CHECKING:
    from connectors.easypost.client import EasyPost
    from sync.runtime import Runtime
    from sync.shipping.plan import Context


def tracker_kept(tracker_id: str | None, label: dict[str, Any] | None) -> bool:
    """Whether the label's own tracker (EasyPost starts one with every label it sells) is kept:
    only a label bought without one needs ``start_tracker`` and its call."""
    return bool(tracker_id and label and label.get("tracker_id") == tracker_id and label.get("tracking_url"))


def start_tracker(rt: Runtime, client: EasyPost, ctx: Context, shipment_id: int) -> None:
    """Start the carrier's tracker of a bought label (through the ledger), and keep its id."""
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        assert sh is not None and sh.label is not None
        label, stored = Label.from_dict(sh.label), sh.tracker_id
        if tracker_kept(stored, sh.label):
            return  # started by EasyPost with the label (see ``tracker_kept``)

    def act(progress: Progress) -> dict[str, Any]:
        tracker_id, url = client.create_tracker(label.tracking_code, label.carrier)
        progress.found_outside_id(tracker_id)  # committed with the outcome
        return {"id": tracker_id, "public_url": url}

    done = rt.ledger.run(
        f"tracker:{shipment_id}",
        "tracker",
        {"tracking_code": label.tracking_code, "carrier": label.carrier},
        act,
        recover=None,  # EasyPost answers a second create with the existing tracker
        account_id=ctx.account_id,
    )
    tracker_id = str(done.get("id") or "")[:64] or None
    if label.tracker_id == done.get("id") and label.tracking_url == done.get("public_url"):
        if stored is not None and stored == tracker_id:
            return  # the label's own tracker, already kept when the label was recorded
        with rt.session() as s:
            sh = s.get(Shipment, shipment_id, with_for_update=True)
            if sh is not None and sh.tracker_id is None and tracker_id:
                sh.tracker_id = tracker_id
        return
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        assert sh is not None and sh.label is not None
        sh.label = {**sh.label, "tracker_id": done.get("id"), "tracking_url": done.get("public_url")}
        sh.tracker_id = tracker_id or sh.tracker_id
        sh.updated_at = utcnow()
