"""The HTTP face: install flows, console, JSON API, health and metrics."""
