"""Colander schemas with Deform widgets, one module per record type; they validate forms, import rows and API bodies."""
