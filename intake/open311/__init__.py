"""Open311 GeoReport v2 (being written)."""
