"""A minimal third platform, defined in the test suite: a tiny REST shop backed by `responses`.

Each concern is one mixin module (orders.py, stock.py, writes.py); shop.py composes them and registers it."""
