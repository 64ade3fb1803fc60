"""Log calls must not pass `extra` keys that the logging module reserves for itself.

Python raises KeyError for such a key, but only when the level is enabled, so the tests
(which log at WARNING) would never notice; a real server logging at INFO would crash.
"""

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "workflows", "webapp", "demo", "forms", "models", "state_machines")
RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def extra_keys(tree: ast.AST):
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                for key in keyword.value.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        yield node.lineno, key.value


def test_no_reserved_extra_keys():
    clashes = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, key in extra_keys(tree):
                if key in RESERVED:
                    clashes.append(f"{path.relative_to(ROOT)}:{line} {key}")
    assert clashes == []
