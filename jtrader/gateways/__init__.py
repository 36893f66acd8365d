"""Venue gateways: everything venue-specific, normalised to domain types at the edge."""
