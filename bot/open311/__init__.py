"""The Open311 GeoReport v2 client."""
