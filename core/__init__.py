"""Canonical types and pure decision logic. No I/O, no Flask, no SQL."""
