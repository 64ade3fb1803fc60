"""Growth charts: a student's measurements over WHO's 2007 SD lines, drawn as inline SVG.

The geometry is computed here and the template draws it, so the page needs no script and
the chart reads the same in English and Urdu (charts stay left to right).
"""

from dataclasses import dataclass, field

from spets.services import growth

WIDTH = 560
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 44, 56, 12, 34
LINES = (-3, -2, -1, 0, 1, 2, 3)
LINE_COLOURS = {
    0: "#198754",
    1: "#6c757d",
    -1: "#6c757d",
    2: "#fd7e14",
    -2: "#fd7e14",
    3: "#dc3545",
    -3: "#dc3545",
}
MIN_SPAN_MONTHS = 36


@dataclass
class Line:
    z: int
    points: str
    colour: str
    label_x: float
    label_y: float
    dashed: bool


@dataclass
class Dot:
    x: float
    y: float
    value: str
    age: str


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    indicator: str
    unit: str
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    path: str = ""
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM


def build_chart(
    indicator: growth.Indicator, sex, measurements: list[tuple[float, float]]
) -> Chart | None:
    """Return the chart of (age in months, value) measurements, or None if none is in the reference's ages."""
    low, high = growth.AGE_LIMITS[indicator]
    inside = [(age, value) for age, value in measurements if low <= age <= high and value]
    if not inside:
        return None
    first = max(low, int(min(age for age, _value in inside)) - 12)
    last = min(high, int(max(age for age, _value in inside)) + 13)
    if last - first < MIN_SPAN_MONTHS:
        first = max(low, last - MIN_SPAN_MONTHS)
        last = min(high, first + MIN_SPAN_MONTHS)
    curves = {z: growth.curve(indicator, sex, first, last, z) for z in LINES}
    values = [value for points in curves.values() for _month, value in points]
    values += [value for _age, value in inside]
    bottom, top = min(values), max(values)
    margin = (top - bottom) * 0.05
    bottom, top = bottom - margin, top + margin

    unit = "kg/m²" if indicator == growth.Indicator.BMI_FOR_AGE else "cm"
    chart = Chart(indicator.value, unit)

    def x_of(age: float) -> float:
        return round(LEFT + (age - first) / (last - first) * (chart.plot_right - LEFT), 1)

    def y_of(value: float) -> float:
        return round(TOP + (top - value) / (top - bottom) * (chart.plot_bottom - TOP), 1)

    for z, points in curves.items():
        coordinates = " ".join(f"{x_of(month)},{y_of(value)}" for month, value in points)
        end_month, end_value = points[-1]
        chart.lines.append(
            Line(
                z,
                coordinates,
                LINE_COLOURS[z],
                x_of(end_month) + 4,
                y_of(end_value) + 4,
                abs(z) == 1,
            )
        )
    ordered = sorted(inside)
    chart.dots = [
        Dot(x_of(age), y_of(value), f"{value:.1f}", f"{age / 12:.1f}") for age, value in ordered
    ]
    chart.path = " ".join(f"{x_of(age)},{y_of(value)}" for age, value in ordered)
    chart.x_ticks = [
        Tick(x_of(month), str(month // 12)) for month in range(first, last + 1) if month % 12 == 0
    ]
    step = _nice_step(top - bottom)
    tick = (int(bottom / step) + 1) * step
    while tick < top:
        chart.y_ticks.append(Tick(y_of(tick), f"{tick:g}"))
        tick += step
    return chart


def _nice_step(span: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50):
        if span / step <= 8:
            return step
    return 100
