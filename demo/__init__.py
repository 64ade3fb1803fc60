"""The demo: South Punjab's org tree and one school loaded from public data."""
