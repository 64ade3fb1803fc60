"""SPeTS, the Student Performance Tracking System.

The repository root is this package: the layers live in `models`, `state_machines`,
`forms`, `services`, `workflows` and `webapp`, with the dependency rules that
`tests/unit/test_layers.py` enforces.
"""

__version__ = "0.1.0"
