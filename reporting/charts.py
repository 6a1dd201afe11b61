"""Charts drawn on the server as SVG: no JavaScript, no library, nothing from a CDN.

Each function returns one ``<svg>`` element, ready to put in a template:

- ``bar_chart(points, title=…, unit=…)``: vertical bars over labelled slots (volume by day).
- ``line_chart(series, title=…, percent=…)``: one or more lines over the same x labels.
- ``hbar_chart(rows, title=…, percent=…)``: horizontal bars with their labels (by category).
- ``distribution_chart(counts, title=…)``: how many of each satisfaction score, 1 to 5.

Every chart scales to its container (``viewBox``, width 100 %), is one image to a screen
reader (``role="img"`` with a ``<title>`` and a ``<desc>`` that lists the values), and
escapes every text it draws: labels are user data. Colours are attributes on the
elements, not a stylesheet, so a chart looks the same in the console, on the public
portal and in an e-mail. Percentages are fractions (0.875 is drawn as 87.5 %). A value
that is None, NaN or infinite is missing: no bar, a gap in a line. No values at all
draw a "No data" chart instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from reporting import svg
from reporting.svg import (
    DASHES,
    GRID,
    INK,
    LABEL_SIZE,
    MUTED,
    PALETTE,
    SCORE_COLOURS,
    TITLE_SIZE,
    VALUE_SIZE,
    WIDTH,
    Number,
    fit,
    nice_ticks,
    text_width,
)

# --- Public API -------------------------------------------------------------------------


def bar_chart(points: Sequence[tuple[str, Number]], *, title: str, unit: str = "") -> SafeString:
    """Vertical bars, one per ``(label, value)``, in the given order.

    With many points the x labels are thinned (every n-th one, so none overlap) and the
    value labels left out; each bar keeps a tooltip with its label and value. Negative
    values hang below the zero line.
    """
    values = [svg.number(value) for _, value in points]
    labels = [str(label) for label, _ in points]
    if not any(value is not None for value in values):
        return svg.empty_chart(title)

    def describe(value: float) -> str:
        return svg.with_unit(svg.format_value(value), unit)

    return _columns(
        labels,
        values,
        title=title,
        colours=[PALETTE[0]] * len(values),
        value_texts=[None if v is None else svg.format_value(v) for v in values],
        tooltips=[
            f"{label}: {describe(v)}" if v is not None else f"{label}: –"
            for label, v in zip(labels, values, strict=True)
        ],
        unit=unit,
        percent=False,
        describe=describe,
    )


def line_chart(
    series: Mapping[str, Sequence[tuple[str, Number]]], *, title: str, percent: bool = False
) -> SafeString:
    """One line per series over the x labels of all of them, in order of first appearance.

    A legend names the series; lines differ by colour and by dash pattern. A missing value
    breaks the line. ``percent``: values are fractions, the axis reads 0–100 %.
    """
    labels: list[str] = []
    seen: set[str] = set()
    for points in series.values():
        for label, _value in points:
            if str(label) not in seen:
                seen.add(str(label))
                labels.append(str(label))
    table = {
        str(name): {str(label): svg.number(value) for label, value in points}
        for name, points in series.items()
    }
    present = [v for row in table.values() for v in row.values() if v is not None]
    if not present:
        return svg.empty_chart(title)
    return _lines(labels, table, title=title, percent=percent)


def hbar_chart(
    rows: Sequence[tuple[str, Number]], *, title: str, percent: bool = False
) -> SafeString:
    """Horizontal bars, one row per ``(label, value)``, labels on the left, values at the end.

    Long labels are shortened with "…" (the full label stays in the tooltip and the
    description). ``percent``: values are fractions, the axis reads 0–100 %.
    """
    values = [svg.number(value) for _, value in rows]
    labels = [str(label) for label, _ in rows]
    if not any(value is not None for value in values):
        return svg.empty_chart(title)
    return _hbars(labels, values, title=title, percent=percent)


def distribution_chart(counts: Mapping[int, int], *, title: str) -> SafeString:
    """How many answers gave each score from 1 to 5 (satisfaction), with their shares.

    Scores outside 1–5 are left out; a negative or missing count is taken as none.
    """
    tally = {score: max(0, int(svg.number(counts.get(score)) or 0)) for score in range(1, 6)}
    total = sum(tally.values())
    if not total:
        return svg.empty_chart(title)
    mean = sum(score * count for score, count in tally.items()) / total
    labels = [str(score) for score in tally]
    values: list[float | None] = [float(count) for count in tally.values()]
    shares = [
        f"{count} ({svg.format_value(count / total, percent=True)})" for count in tally.values()
    ]
    return _columns(
        labels,
        values,
        title=title,
        colours=[SCORE_COLOURS[score] for score in tally],
        value_texts=shares,
        tooltips=[
            _("Score %(score)s: %(share)s") % {"score": label, "share": share}
            for label, share in zip(labels, shares, strict=True)
        ],
        unit="",
        percent=False,
        describe=lambda value: svg.format_value(value),
        summary=_("%(total)s answers, average score %(mean)s.")
        % {"total": total, "mean": f"{mean:.2f}"},
    )


def _columns(
    labels: list[str],
    values: list[float | None],
    *,
    title: str,
    colours: Sequence[str],
    value_texts: Sequence[str | None],
    tooltips: Sequence[str],
    unit: str,
    percent: bool,
    describe: Callable[[float], str],
    summary: str = "",
) -> SafeString:
    present = [v for v in values if v is not None]
    integer = all(float(v).is_integer() for v in present)
    ticks = nice_ticks(min(0.0, *present), max(0.0, *present), integer=integer)
    tick_width = max(text_width(svg.format_value(t, percent=percent), VALUE_SIZE) for t in ticks)
    height = 300.0
    top, bottom = 48.0, height - 30
    left, right = tick_width + 12, float(WIDTH - 4)
    low, high = ticks[0], ticks[-1]

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    parts = svg.y_axis(ticks, left=left, right=right, scale=y, percent=percent)
    if unit:
        parts.append(svg.text_at(4, top - 10, unit, size=VALUE_SIZE, anchor="start", cls="unit"))
    slot = (right - left) / len(values)
    bar = min(slot * 0.72, 56.0)
    centres = [left + slot * (i + 0.5) for i in range(len(values))]
    crowded = slot < 14
    zero = y(0.0)
    for i, value in enumerate(values):
        if value is None:
            continue
        top_y, bar_height = min(zero, y(value)), abs(y(value) - zero)
        parts.append(
            f'<g class="bar"><title>{svg.esc(tooltips[i])}</title>'
            f'<rect x="{svg.px(centres[i] - bar / 2)}" y="{svg.px(top_y)}" width="{svg.px(bar)}" '
            f'height="{svg.px(max(bar_height, 0.5 if value else 0))}" rx="2" fill="{colours[i]}"/>'
            "</g>"
        )
        text = value_texts[i]
        if text and not crowded and text_width(text, VALUE_SIZE) <= slot:
            label_y = y(value) - 5 if value >= 0 else y(value) + VALUE_SIZE + 3
            parts.append(
                svg.text_at(centres[i], label_y, text, size=VALUE_SIZE, fill=INK, cls="value")
            )
    parts.append(svg.x_labels(labels, centres, slot, bottom=bottom))
    description = svg.listing(
        (label, describe(value) if value is not None else "–")
        for label, value in zip(labels, values, strict=True)
    )
    return svg.Svg(title, f"{summary} {description}".strip(), height, parts).render()


def _lines(
    labels: list[str], table: dict[str, dict[str, float | None]], *, title: str, percent: bool
) -> SafeString:
    present = [v for row in table.values() for v in row.values() if v is not None]
    low, high = min(0.0, *present), max(0.0, *present)
    if percent and low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    integer = not percent and all(float(v).is_integer() for v in present)
    ticks = nice_ticks(low, high, integer=integer)
    tick_width = max(text_width(svg.format_value(t, percent=percent), VALUE_SIZE) for t in ticks)
    legend, legend_bottom = svg.legend(list(table), top=TITLE_SIZE + 26)
    height = 300.0 + (legend_bottom - (TITLE_SIZE + 26))
    top, bottom = legend_bottom + 18, height - 30
    left, right = tick_width + 12, float(WIDTH - 16)
    y_low, y_high = ticks[0], ticks[-1]

    def y(value: float) -> float:
        return bottom - (value - y_low) / (y_high - y_low) * (bottom - top)

    parts = [*svg.y_axis(ticks, left=left, right=right, scale=y, percent=percent), *legend]
    count = len(labels)
    spacing = (right - left - 16) / max(count - 1, 1)
    xs = [left + 8 + spacing * i for i in range(count)] if count > 1 else [(left + right) / 2]
    markers = count <= 40
    for index, (name, row) in enumerate(table.items()):
        colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        path, pen_down, points = [], False, []
        for i, label in enumerate(labels):
            value = row.get(label)
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{svg.px(xs[i])} {svg.px(y(value))}")
            pen_down = True
            tip = f"{name} · {label}: {svg.format_value(value, percent=percent)}"
            dot = svg.marker(svg.MARKERS[index % len(svg.MARKERS)], xs[i], y(value), colour)
            if not markers:  # an invisible target still carries the tooltip
                centre = f'cx="{svg.px(xs[i])}" cy="{svg.px(y(value))}"'
                dot = f'<circle {centre} r="4" fill="transparent"/>'
            points.append(f'<g class="point"><title>{svg.esc(tip)}</title>{dot}</g>')
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<g class="series"><path class="line" d="{" ".join(path)}" fill="none" '
            f'stroke="{colour}" stroke-width="2.5" stroke-linejoin="round"{dashing}/>'
            + "".join(points)
            + "</g>"
        )
        last = next(
            (
                (i, row[lab])
                for i, lab in reversed(list(enumerate(labels)))
                if row.get(lab) is not None
            ),
            None,
        )
        if last is not None and len(table) <= 3:
            i, value = last
            at_end = xs[i] > WIDTH - 60  # keep the label inside the picture
            assert value is not None
            parts.append(
                svg.text_at(
                    xs[i] + (4 if at_end else 0),
                    y(value) - 8,
                    svg.format_value(value, percent=percent),
                    size=VALUE_SIZE,
                    anchor="end" if at_end else "middle",
                    fill=colour,
                    cls="value",
                    weight="600",
                )
            )
    parts.append(svg.x_labels(labels, xs, spacing if count > 1 else right - left, bottom=bottom))
    description = " ".join(
        f"{name}: "
        + svg.listing(
            (label, svg.format_value(value, percent=percent) if value is not None else "–")
            for label in labels
            for value in [row.get(label)]
        )
        for name, row in table.items()
    )
    return svg.Svg(title, description, height, parts).render()


def _hbars(
    labels: list[str], values: list[float | None], *, title: str, percent: bool
) -> SafeString:
    present = [v for v in values if v is not None]
    low, high = min(0.0, *present), max(0.0, *present)
    if percent and low >= 0 and high <= 1:
        high = 1.0
    integer = not percent and all(float(v).is_integer() for v in present)
    ticks = nice_ticks(low, high, integer=integer)
    row_height, bar_height = 28.0, 18.0
    top = 40.0
    height = top + row_height * len(values) + 24
    label_room = min(max(text_width(label, LABEL_SIZE) for label in labels), WIDTH * 0.36)
    value_room = max(
        text_width(svg.format_value(v, percent=percent), VALUE_SIZE) for v in [*present, *ticks]
    )
    left, right = label_room + 10, WIDTH - value_room - 8
    x_low, x_high = ticks[0], ticks[-1]

    def x(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * (right - left)

    bottom = top + row_height * len(values)
    parts = []
    for tick in ticks:
        colour = MUTED if tick == 0 else GRID
        parts.append(
            f'<line class="grid" x1="{svg.px(x(tick))}" x2="{svg.px(x(tick))}" y1="{svg.px(top)}" '
            f'y2="{svg.px(bottom)}" stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(
            svg.text_at(
                x(tick),
                bottom + 16,
                svg.format_value(tick, percent=percent),
                size=VALUE_SIZE,
                cls="x-tick",
            )
        )
    zero = x(0.0)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        middle = top + row_height * i + row_height / 2
        parts.append(
            svg.text_at(
                left - 8,
                middle + 4,
                fit(label, label_room, LABEL_SIZE),
                anchor="end",
                fill=INK,
                cls="row-label",
            )
        )
        if value is None:
            continue
        shown = svg.format_value(value, percent=percent)
        start, width = min(zero, x(value)), abs(x(value) - zero)
        parts.append(
            f'<g class="bar"><title>{svg.esc(f"{label}: {shown}")}</title>'
            f'<rect x="{svg.px(start)}" y="{svg.px(middle - bar_height / 2)}" '
            f'width="{svg.px(max(width, 0.5 if value else 0))}" '
            f'height="{svg.px(bar_height)}" rx="2" fill="{PALETTE[0]}"/></g>'
        )
        # After the end of the bar; a negative bar's value goes right of the zero line, as
        # left of the bar is the labels' column.
        parts.append(
            svg.text_at(
                max(x(value), zero) + 5,
                middle + 4,
                shown,
                size=VALUE_SIZE,
                anchor="start",
                fill=INK,
                cls="value",
            )
        )
    description = svg.listing(
        (label, svg.format_value(value, percent=percent) if value is not None else "–")
        for label, value in zip(labels, values, strict=True)
    )
    return svg.Svg(title, description, height, parts).render()
