"""A local EasyPost (API v2) that the official ``easypost`` client talks to unchanged.

Start it::

    from sandbox.easypost import EasyPostSimulator
    from sandbox.harness import FakeClock, serve

    sim = EasyPostSimulator(api_keys=["EZTK..."], webhook_secret="sécret", clock=FakeClock())
    server = serve(sim)
    client = easypost.EasyPostClient("EZTK...", api_base=server.url + "/v2")

**Auth.** The key comes as ``Authorization: Bearer <key>`` (what the client sends) or
as the HTTP Basic username (what the docs describe). No key: 401 ``APIKEY.REQUIRED``;
a key not given to the constructor: 401 ``APIKEY.INACTIVE``. Keys starting ``EZAK``
are production keys (objects get ``mode: "production"``), others test keys; both
modes share one store, but webhooks only receive events of their own mode.

**Address verification rules** (US addresses; others always verify):

- ``street1`` without a leading house number: ``E.ADDRESS.NOT_FOUND`` and
  ``E.HOUSE_NUMBER.MISSING`` (as EasyPost answers for ``street1: "invalid"``);
- ``street1`` containing ``UNDELIVERABLE``, a ZIP that is not 5 digits or starts
  with ``000``, or an unknown state code: ``E.ADDRESS.NOT_FOUND``;
- a ZIP from the simulator's small table (94107, 94104, 90277, 10001, 60601, 77063,
  29401, 98101) with a different city: ``E.ADDRESS.INVALID`` on ``city`` whose
  ``suggestion`` is the right city.

A verified address is upper-cased, ``street2`` is folded into ``street1``, the ZIP
gets a deterministic +4, ``residential`` is true when there is no company, and
``verifications.delivery.details`` carries latitude, longitude and time zone.
Strict verification (``verify_strict``, ``create_and_verify``, ``GET .../verify``)
fails with 422 ``ADDRESS.VERIFY.FAILURE`` listing those errors.

**Rates.** USPS, UPS and FedEx, three services each (domestic and international sets).
Zone: 1 when both 3-digit ZIP prefixes match, else 2 + min(6, gap // 100), 9 when
either end is outside the US. Price = base + per-pound x pounds (ounces / 16, rounded
up) x (1 + 0.15 x (zone - 1)); ``list_rate`` is +10 %, ``retail_rate`` +30 %. An
international shipment without customs info gets no rates and ``rate_error`` messages.

**Buying.** ``POST /shipments/{id}/buy`` with ``rate: {id}`` (optional ``insurance``,
fee 1 %) sets ``postage_label``, ``tracking_code``, ``selected_rate``, ``fees`` and an
auto-created ``tracker`` (``tracker.created`` event). The label's ``label_url`` serves a real
4x6 label at 300 dpi showing the carrier, service and tracking code: PNG by default, PDF or
ZPL when the shipment's ``options.label_format`` asks (:mod:`sandbox.easypost.label_files`).
Buying again: 422
``SHIPMENT.POSTAGE.EXISTS``. ``refund`` sets ``refund_status: "submitted"``; after
``refund_delay_s`` (default a day) a tick makes it ``refunded`` (``refund.successful``
event) when the tracker has not moved past pre_transit, else ``rejected``.

**Tracking.** Each tracker follows a seeded plan of scans (:mod:`sandbox.easypost.transit`:
gaps per carrier and service, transit days per route class) turned into its scripted
outcome (:mod:`sandbox.easypost.scenarios`: ``sim.script_tracker(id_or_code, scenario,
**params)``); ``sim.advance(seconds, step_s)`` moves a FakeClock, applies due scans (one
``tracker.updated`` per moved tracker per step, ``previous_attributes`` ``{"status"}``),
settles refunds, resubmits due webhook retries and delivers what is due.
``sim.tracker_report`` / ``sim.tracking_report`` say what was scanned and sent.
``docs/sandbox.md`` has the tables.

**Webhooks.** Events signed ``X-Hmac-Signature: hmac-sha256-hex=<hex>`` with the
webhook's ``webhook_secret`` (or the simulator's), NFKD-normalised; failed deliveries
are retried after 1, 5, 15, 60 minutes, then 3, 6 and 12 hours (``retry_schedule``).

**Faults.** ``EasyPostFaults`` adds tracker event drops, duplicates and reordering
(``tracker_drop_rate``, ``tracker_duplicate_rate``, ``tracker_reorder_window_s``) to the
harness faults, which answer with EasyPost's bodies (429 ``RATE_LIMITED``,
503 ``SERVICE_UNAVAILABLE``, ...); ``sim.fail_next(status, times, op)`` scripts exact
errors; ``Faults(lost_response_rate=1, lost_response_ops=("shipment.buy",))`` buys the
label and then loses the response.
"""

from .simulator import DEFAULT_TEST_KEY, EasyPostSimulator

__all__ = ["DEFAULT_TEST_KEY", "EasyPostSimulator"]
