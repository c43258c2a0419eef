"""EasyPost: shipments, labels, trackers and their webhooks."""
