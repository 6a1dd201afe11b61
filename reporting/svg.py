"""Drawing pieces of the SVG charts (``reporting.charts``): scales, text, axes, legends.

Text is measured roughly, which is enough to lay labels out: a Chinese (wide) character
is as wide as the font is high, anything else a little over half. Every text that goes
into a chart passes through ``esc``.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

# Readable on white (contrast 4.5:1 or more) and apart from each other for most kinds of
# colour blindness; lines also differ by dash pattern, so colour is never the only cue.
PALETTE = ("#0b6e4f", "#2156a5", "#b54708", "#6941c6", "#c01048", "#475467")
DASHES = ("", "6 4", "2 3", "10 3 2 3", "1 5", "12 6")
# Satisfaction 1 (red) … 5 (green), each 3:1 or more on white.
SCORE_COLOURS = {1: "#b42318", 2: "#c4320a", 3: "#8a6d00", 4: "#3b7d3f", 5: "#0b6e4f"}
INK = "#1f2933"
MUTED = "#52606d"
GRID = "#d9e2ec"
FONT = 'system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'

WIDTH = 640
TITLE_SIZE = 15
LABEL_SIZE = 12
VALUE_SIZE = 11
# How many values a <desc> lists before it summarises the rest.
DESC_LIMIT = 24

Number = float | int | Decimal | None

# Characters XML does not allow at all (a label pasted from a terminal, a NUL in an e-mail).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- Scales and text --------------------------------------------------------------------


def nice_ticks(low: float, high: float, *, count: int = 5, integer: bool = False) -> list[float]:
    """Round axis ticks covering ``low``–``high`` in steps of 1, 2 or 5 times a power of ten.

    ``integer``: never a step below 1 (counts are whole).
    """
    if high < low:
        low, high = high, low
    if high == low:
        if high == 0:
            high = 1.0
        elif high > 0:
            low = 0.0
        else:
            high = 0.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(step, 1.0)
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    steps = round((end - start) / step)
    return [_tidy(start + i * step) for i in range(steps + 1)]


def text_width(text: str, size: float) -> float:
    """About how wide ``text`` is drawn at font ``size``: Chinese characters are square,
    Latin letters and digits a little over half as wide."""
    return sum(size * (1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6) for ch in text)


def fit(text: str, width: float, size: float) -> str:
    """``text``, shortened with "…" to fit ``width`` at font ``size``."""
    if text_width(text, size) <= width:
        return text
    room = width - text_width("…", size)
    kept = ""
    for ch in text:
        if text_width(kept + ch, size) > room:
            break
        kept += ch
    return kept.rstrip() + "…" if kept.strip() else "…"


def _tidy(value: float) -> float:
    # 0.1 + 0.2 and friends: ticks must print as the numbers they are.
    return round(value, 10) + 0.0


def number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_value(value: float, *, percent: bool = False) -> str:
    if percent:
        shown = round(value * 100, 1)
        return f"{shown:.0f}%" if float(shown).is_integer() else f"{shown:.1f}%"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    # 12 h, 12 days — but 12件, 12小时: Chinese units follow the number directly.
    return f"{text}{unit}" if text_width(unit[0], 1) >= 1 else f"{text} {unit}"


def esc(value: Any) -> str:
    """Escaped for XML text and attributes; characters XML cannot hold are dropped."""
    return str(escape(_NOT_XML.sub("", str(value))))


def px(value: float) -> str:
    """A coordinate: short and exact enough."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


# --- Drawing ----------------------------------------------------------------------------


@dataclass
class Svg:
    """The element under construction: its parts, then one string."""

    title: str
    description: str
    height: float
    parts: list[str]

    def render(self) -> SafeString:
        uid = uuid.uuid4().hex[:8]
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {WIDTH} {px(self.height)}" width="100%" '
            f'preserveAspectRatio="xMidYMid meet" font-family="{esc(FONT)}" '
            f'aria-labelledby="chart-{uid}-title chart-{uid}-desc">'
            f'<title id="chart-{uid}-title">{esc(self.title)}</title>'
            f'<desc id="chart-{uid}-desc">{esc(self.description)}</desc>'
            f'<text class="chart-title" x="0" y="{TITLE_SIZE + 3}" font-size="{TITLE_SIZE}" '
            f'font-weight="600" fill="{INK}">{esc(fit(self.title, WIDTH, TITLE_SIZE))}</text>'
        )
        return mark_safe(head + "".join(self.parts) + "</svg>")  # noqa: S308 - all escaped


def text_at(
    x: float,
    y: float,
    text: str,
    *,
    size: float = LABEL_SIZE,
    anchor: str = "middle",
    fill: str = MUTED,
    cls: str = "",
    weight: str = "",
) -> str:
    extra = f' class="{cls}"' if cls else ""
    extra += f' font-weight="{weight}"' if weight else ""
    return (
        f'<text{extra} x="{px(x)}" y="{px(y)}" font-size="{px(size)}" '
        f'text-anchor="{anchor}" fill="{fill}">{esc(text)}</text>'
    )


def listing(pairs: Iterable[tuple[str, str]]) -> str:
    items = list(pairs)
    shown = "; ".join(f"{label}: {value}" for label, value in items[:DESC_LIMIT])
    if len(items) > DESC_LIMIT:
        shown += "; " + _("and %(count)s more") % {"count": len(items) - DESC_LIMIT}
    return shown + "."


def empty_chart(title: str) -> SafeString:
    height = 120
    message = _("No data")
    svg = Svg(
        title=title,
        description=_("No data for this chart."),
        height=height,
        parts=[
            f'<rect x="0.5" y="30.5" width="{WIDTH - 1}" height="{height - 31}" rx="6" '
            f'fill="#f7f9fb" stroke="{GRID}"/>',
            text_at(WIDTH / 2, 30 + (height - 30) / 2 + 5, message, size=14, cls="no-data"),
        ],
    )
    return svg.render()


def y_axis(
    ticks: list[float], *, left: float, right: float, scale: Any, percent: bool
) -> list[str]:
    parts = []
    for tick in ticks:
        y = scale(tick)
        colour = MUTED if tick == 0 else GRID
        parts.append(
            f'<line class="grid" x1="{px(left)}" x2="{px(right)}" y1="{px(y)}" y2="{px(y)}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(
            text_at(
                left - 6,
                y + 4,
                format_value(tick, percent=percent),
                anchor="end",
                cls="y-label",
                size=VALUE_SIZE,
            )
        )
    return parts


def x_labels(labels: list[str], centres: list[float], spacing: float, *, bottom: float) -> str:
    """The x labels under the plot: all of them, shortened, when there are few; otherwise
    every n-th one at full length (up to a limit), so that none overlap."""
    longest = min(max(text_width(label, LABEL_SIZE) for label in labels), 120.0)
    if longest + 6 <= spacing or len(labels) <= 8:
        step, room = 1, max(spacing - 6, LABEL_SIZE * 1.5)
    else:
        step, room = math.ceil((longest + 10) / spacing), 120.0
    parts = []
    for i, (label, x) in enumerate(zip(labels, centres, strict=True)):
        if i % step:
            continue
        shown = fit(label, room, LABEL_SIZE)
        half = text_width(shown, LABEL_SIZE) / 2
        # Centred under its bar or point, but never past the edges of the picture.
        centre = min(max(x, half + 1), WIDTH - half - 1)
        parts.append(text_at(centre, bottom + LABEL_SIZE + 6, shown, cls="x-label"))
    return "".join(parts)


MARKERS = ("circle", "square", "triangle", "diamond")


def marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "circle":
        return f'<circle cx="{px(x)}" cy="{px(y)}" r="3.5" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{px(x - 3.5)}" y="{px(y - 3.5)}" width="7" height="7" fill="{colour}"/>'
    corners = (
        [(0, -4.5), (4, 3), (-4, 3)]
        if kind == "triangle"
        else [(0, -4.5), (4.5, 0), (0, 4.5), (-4.5, 0)]
    )
    points = " ".join(f"{px(x + dx)},{px(y + dy)}" for dx, dy in corners)
    return f'<polygon points="{points}" fill="{colour}"/>'


def legend(names: list[str], *, top: float) -> tuple[list[str], float]:
    """Legend items in rows under the title; the parts and the y below them."""
    parts, x, y = [], 0.0, top
    for index, name in enumerate(names):
        colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        shown = fit(name, 200, LABEL_SIZE)
        width = 30 + text_width(shown, LABEL_SIZE) + 18
        if x and x + width > WIDTH:
            x, y = 0.0, y + 20
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<g class="legend-item"><line x1="{px(x)}" x2="{px(x + 24)}" y1="{px(y - 4)}" '
            f'y2="{px(y - 4)}" stroke="{colour}" stroke-width="2.5"{dashing}/>'
            + text_at(x + 30, y, shown, anchor="start", fill=INK)
            + "</g>"
        )
        x += width
    return ['<g class="legend">', *parts, "</g>"], y
