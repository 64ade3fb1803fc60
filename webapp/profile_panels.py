"""Panels that domains add to the student profile, each behind its own permission.

A domain registers a panel when its views module is imported (config.scan imports them
all); the profile renders each registered panel the reader may see, in `order`. Keys
named in the profile's list of planned panels stop showing as placeholders once a
panel with the same key is registered.
"""

from collections.abc import Callable
from dataclasses import dataclass

from pyramid.renderers import render


@dataclass(frozen=True)
class Panel:
    key: str
    title: object
    permission: str
    template: str
    load: Callable  # (request, record) -> dict of template values, or None to hide the panel
    order: int = 100
    wide: bool = False


PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> Panel:
    PANELS[panel.key] = panel
    return panel


def rendered_panels(request, record, can) -> list[tuple[Panel, str]]:
    """Render the registered panels the reader may see, as (panel, HTML) in order."""
    shown = []
    for panel in sorted(PANELS.values(), key=lambda p: (p.order, p.key)):
        if not can(panel.permission):
            continue
        values = panel.load(request, record)
        if values is None:
            continue
        html = render(panel.template, {"panel": panel, "record": record, **values}, request=request)
        shown.append((panel, html))
    return shown
