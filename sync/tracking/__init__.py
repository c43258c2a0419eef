"""Tracking: carrier events in, each status change written back once, missed events
recovered, delivery exceptions caught and told (see docs/tracking.md)."""
