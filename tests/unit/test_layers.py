"""The dependency rules between layers, checked on the imports of every module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("models", "state_machines", "forms", "services", "workflows", "webapp")

# For each layer, the layers and third-party packages it must never import.
FORBIDDEN = {
    "models": {
        "state_machines",
        "forms",
        "services",
        "workflows",
        "webapp",
        "pyramid",
        "prefect",
        "deform",
    },
    "state_machines": {"forms", "services", "workflows", "webapp", "pyramid", "prefect"},
    "forms": {"services", "workflows", "webapp", "pyramid", "prefect"},
    "services": {"workflows", "webapp", "pyramid", "prefect"},
    "workflows": {"webapp", "pyramid"},
}


def imported_names(path: Path) -> set[str]:
    """Return the top-level names a module imports, with `spets.` stripped."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names.add(parts[1] if parts[0] == "spets" and len(parts) > 1 else parts[0])
    return names


def modules_of(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_allowed(layer):
    offenders = {}
    for path in modules_of(layer):
        bad = imported_names(path) & FORBIDDEN[layer]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_every_layer_exists():
    for layer in LAYERS:
        assert (ROOT / layer / "__init__.py").is_file(), layer


def test_webapp_starts_flows_by_name_only():
    """The web app may name deployments, never import flow code from workflows."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in modules_of("webapp")
        if "workflows" in imported_names(path)
    ]
    assert offenders == []


def test_packages_listed_in_pyproject():
    """Every package folder is listed, so a non-editable install ships it."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "spets." + ".".join(path.parent.relative_to(ROOT).parts)
        for path in ROOT.rglob("__init__.py")
        if not any(part in (".venv", "tests", "benchmarks") for part in path.parts)
        and path.parent != ROOT
    }
    assert found - listed == set()
