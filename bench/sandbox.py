"""Requests per second each sandbox simulator sustains on one core.

Each simulator runs in its own process pinned to one CPU, served by
``sandbox.harness.serve``; client processes on the other core send simple
requests (Shopify ``{ shop { name } }``, WooCommerce ``GET products/<id>``, EasyPost
``GET addresses/<id>``) with a lean HTTP client, so the figure is the simulator's,
not the client library's. A bare harness route in the same setup is the baseline.

    python -m bench.sandbox [--requests N] [--clients C]

Last line: min_rps=... shopify_rps=... woocommerce_rps=... easypost_rps=... bare_rps=...
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import time
from typing import Any

TOKEN = "shpat_" + "0" * 32
EP_KEY = "EZTK-sandbox-bench-key"


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


def _shopify() -> tuple[Any, dict[str, Any]]:
    from sandbox.shopify import ShopifySimulator

    sim = ShopifySimulator(api_key="bench", api_secret="bench-secret")
    sim.add_shop("bench.myshopify.com", token=TOKEN, plan="plus")
    body = json.dumps({"query": "{ shop { name } }"})
    headers = {"X-Shopify-Access-Token": TOKEN, "Content-Type": "application/json"}
    return sim, {
        "method": "POST",
        "path": "/admin/api/2026-10/graphql.json",
        "body": body,
        "headers": headers,
    }


def _woocommerce() -> tuple[Any, dict[str, Any]]:
    from sandbox.woocommerce import WooCommerceSimulator

    sim = WooCommerceSimulator(https=True)
    ck, cs = sim.create_key("read_write")
    product = sim.add_product("Bench tee", sku="BENCH-1", stock=5)
    auth = base64.b64encode(f"{ck}:{cs}".encode()).decode()
    return sim, {
        "method": "GET",
        "path": f"/wp-json/wc/v3/products/{product}",
        "body": None,
        "headers": {"Authorization": f"Basic {auth}"},
    }


def _easypost() -> tuple[Any, dict[str, Any]]:
    from sandbox.easypost import EasyPostSimulator

    sim = EasyPostSimulator(api_keys=[EP_KEY], webhook_secret="bench")
    import easypost

    return sim, {"method": "address", "client": easypost}


def _bare() -> tuple[Any, dict[str, Any]]:
    from sandbox.harness import Simulator, json_response

    sim = Simulator()
    sim.route("/ping", lambda request: json_response({"ok": True}), ["GET"], "ping")
    return sim, {"method": "GET", "path": "/ping", "body": None, "headers": {}}


BUILDERS = {"shopify": _shopify, "woocommerce": _woocommerce, "easypost": _easypost, "bare": _bare}


def _serve(name: str, ready: Any, stop: Any) -> None:
    _pin(0)
    from sandbox.harness import serve

    sim, spec = BUILDERS[name]()
    server = serve(sim)
    if spec["method"] == "address":
        client = spec["client"].EasyPostClient(EP_KEY, api_base=server.url + "/v2")
        address = client.address.create(
            street1="417 Montgomery St", city="San Francisco", state="CA", zip="94104", country="US"
        )
        auth = {"Authorization": f"Bearer {EP_KEY}"}
        spec = {"method": "GET", "path": f"/v2/addresses/{address.id}", "body": None, "headers": auth}
    ready.put((server.port, spec))
    stop.wait()
    server.stop()


def _client(port: int, spec: dict[str, Any], count: int, out: Any) -> None:
    _pin(1)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = 0
    for _ in range(count):
        conn.request(spec["method"], spec["path"], body=spec["body"], headers=spec["headers"])
        resp = conn.getresponse()
        resp.read()
        ok += resp.status == 200
        if resp.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out.put(ok)


def measure(name: str, requests: int, clients: int) -> float:
    ctx = mp.get_context("spawn")
    ready, stop, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(name, ready, stop))
    server.start()
    port, spec = ready.get(timeout=60)
    _client(port, spec, 50, ctx.Queue())  # warm-up
    per = requests // clients
    procs = [ctx.Process(target=_client, args=(port, spec, per, out)) for _ in range(clients)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    ok = sum(out.get(timeout=300) for _ in procs)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    stop.set()
    server.join(10)
    if ok != per * clients:
        raise SystemExit(f"{name}: only {ok} of {per * clients} requests answered 200")
    return ok / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    rps = {name: measure(name, args.requests, args.clients) for name in BUILDERS}
    for name, value in rps.items():
        print(f"{name}: {value:.0f} requests/s")
    sims = [rps["shopify"], rps["woocommerce"], rps["easypost"]]
    print(
        f"min_rps={min(sims):.0f} shopify_rps={rps['shopify']:.0f} woocommerce_rps={rps['woocommerce']:.0f} "
        f"easypost_rps={rps['easypost']:.0f} bare_rps={rps['bare']:.0f}"
    )


if __name__ == "__main__":
    main()
