"""Fixtures for the Shopify simulator tests: a fake clock, a seeded shop, a GraphQL caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import Order, ShopData
from tests.sandbox.shopify.support import API_KEY, ENDPOINT, SECRET, SHOP, TOKEN, GraphQL


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture
def sim(clock: FakeClock) -> ShopifySimulator:
    simulator = ShopifySimulator(api_key=API_KEY, api_secret=SECRET, clock=clock, retry_schedule_s=(60, 600))
    simulator.add_shop(SHOP, token=TOKEN)
    simulator.add_product(
        SHOP,
        "Canvas Tote",
        [{"sku": "TOTE-RED", "price": "20.00", "available": 10}, {"sku": "TOTE-BLUE", "price": "22.50"}],
    )
    return simulator


@pytest.fixture
def shop(sim: ShopifySimulator) -> ShopData:
    return sim.shop(SHOP)


@pytest.fixture
def order(sim: ShopifySimulator) -> Order:
    return sim.place_order(SHOP, [("TOTE-RED", 2), ("TOTE-BLUE", 1)])


@pytest.fixture
def gql(sim: ShopifySimulator) -> GraphQL:
    """POST a document to the simulator in-process; returns (status, JSON body)."""
    client = Client(sim)

    def call(
        query: str, variables: dict[str, Any] | None = None, token: str = TOKEN
    ) -> tuple[int, dict[str, Any]]:
        resp = client.post(
            ENDPOINT,
            data=json.dumps({"query": query, "variables": variables or {}}),
            headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"},
        )
        return resp.status_code, json.loads(resp.get_data())

    return call


@pytest.fixture
def served(sim: ShopifySimulator) -> Iterator[RunningServer]:
    with serve(sim) as server:
        yield server
