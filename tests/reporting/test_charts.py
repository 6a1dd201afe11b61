"""The SVG charts: parsed back with ElementTree to check what they draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest
from django.utils import translation

from reporting.charts import bar_chart, distribution_chart, hbar_chart, line_chart
from reporting.svg import fit, nice_ticks, text_width

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _in_english() -> Iterator[None]:
    with translation.override("en"):
        yield


HOSTILE = '<script>alert("x")</script> & Co'


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [el for el in root.iter() if name in (el.get("class") or "").split()]


def texts(root: ET.Element, name: str) -> list[str]:
    return ["".join(el.itertext()) for el in by_class(root, name)]


def rect(bar: ET.Element) -> ET.Element:
    found = bar.find(f"{SVG}rect")
    assert found is not None
    return found


def bar_tooltips(root: ET.Element) -> list[str]:
    return [el.findtext(f"{SVG}title") or "" for el in by_class(root, "bar")]


# --- Scales and text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 10, [0, 2, 4, 6, 8, 10]),
        (0, 97, [0, 20, 40, 60, 80, 100]),
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (-5, 42, [-10, 0, 10, 20, 30, 40, 50]),
        (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 3200, [0, 1000, 2000, 3000, 4000]),
    ],
)
def test_ticks_step_by_one_two_or_five(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == expected


def test_ticks_of_counts_are_whole_numbers() -> None:
    assert nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]


def test_chinese_characters_count_double() -> None:
    assert text_width("城市", 12) == 24
    assert text_width("ab", 12) == pytest.approx(14.4)


def test_fit_shortens_with_an_ellipsis() -> None:
    shown = fit("城市管理局市场监督管理局", 60, 12)
    assert shown.endswith("…")
    assert text_width(shown, 12) <= 60
    assert fit("short", 200, 12) == "short"


# --- Every chart ------------------------------------------------------------------------

CHARTS = {
    "bar": lambda label: bar_chart([(label, 3), ("二", 5)], title=label),
    "line": lambda label: line_chart({label: [(label, 0.5), ("b", 0.7)]}, title=label),
    "hbar": lambda label: hbar_chart([(label, 3), ("二", 5)], title=label),
    "distribution": lambda label: distribution_chart({1: 1, 5: 4}, title=label),
}


@pytest.mark.parametrize("kind", CHARTS)
def test_chart_is_an_accessible_responsive_image(kind: str) -> None:
    root = parse(CHARTS[kind]("Complaints"))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert root.get("viewBox", "").startswith("0 0 640 ")
    title, desc = root[0], root[1]
    assert title.tag == f"{SVG}title"
    assert title.text == "Complaints"
    assert desc.tag == f"{SVG}desc"
    assert desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


@pytest.mark.parametrize("kind", CHARTS)
def test_chart_escapes_every_text(kind: str) -> None:
    svg = str(CHARTS[kind](HOSTILE))
    assert "<script" not in svg
    root = parse(svg)  # still well-formed XML
    assert root.findtext(f"{SVG}title") == HOSTILE
    assert not list(root.iter(f"{SVG}script"))


def test_control_characters_in_labels_do_not_break_the_xml() -> None:
    root = parse(bar_chart([("bad\x00\x1blabel", 1)], title="t\x0b"))
    assert "badlabel" in root.findtext(f"{SVG}desc", "")


@pytest.mark.parametrize(
    "draw",
    [
        lambda: bar_chart([], title="Empty"),
        lambda: bar_chart([("a", None), ("b", float("nan"))], title="Empty"),
        lambda: line_chart({}, title="Empty"),
        lambda: line_chart({"a": [("x", None)]}, title="Empty"),
        lambda: hbar_chart([], title="Empty"),
        lambda: distribution_chart({}, title="Empty"),
        lambda: distribution_chart({3: 0, 9: 4}, title="Empty"),
    ],
)
def test_no_data_draws_a_no_data_chart(draw: Callable[[], str]) -> None:
    with translation.override("en"):
        root = parse(draw())
    assert texts(root, "no-data") == ["No data"]
    assert not by_class(root, "bar")
    assert not by_class(root, "point")


# --- Bars -------------------------------------------------------------------------------


def test_bar_chart_draws_one_bar_per_value_with_labels() -> None:
    root = parse(bar_chart([("周一", 3), ("周二", 12), ("周三", 0)], title="Volume", unit="件"))
    assert len(by_class(root, "bar")) == 3
    assert texts(root, "x-label") == ["周一", "周二", "周三"]
    assert texts(root, "value") == ["3", "12", "0"]
    assert texts(root, "unit") == ["件"]
    assert bar_tooltips(root) == ["周一: 3件", "周二: 12件", "周三: 0件"]
    heights = [float(rect(bar).get("height", "0")) for bar in by_class(root, "bar")]
    assert heights[1] == pytest.approx(4 * heights[0])
    assert texts(root, "y-label")[-1] == "12" or float(texts(root, "y-label")[-1]) >= 12


def test_bar_chart_thins_its_labels_when_there_are_many() -> None:
    points = [(f"2026-03-{day:02d}", day) for day in range(1, 31)]
    root = parse(bar_chart(points, title="March"))
    assert len(by_class(root, "bar")) == 30
    labels = texts(root, "x-label")
    assert 3 <= len(labels) < 30
    assert labels[0] == "2026-03-01"
    # The description still lists the values for a screen reader.
    assert "2026-03-24: 24" in root.findtext(f"{SVG}desc", "")


def test_bar_chart_hangs_negative_values_below_zero_and_skips_missing_ones() -> None:
    root = parse(bar_chart([("up", 4), ("down", -2), ("unknown", None)], title="Change"))
    bars = by_class(root, "bar")
    assert len(bars) == 2
    up, down = (rect(bar) for bar in bars)
    # Both start at the zero line: the positive one ends there, the negative one begins.
    zero = float(up.get("y", 0)) + float(up.get("height", 0))
    assert float(down.get("y", 0)) == pytest.approx(zero)
    assert "-2" in root.findtext(f"{SVG}desc", "")
    assert "unknown: –" in root.findtext(f"{SVG}desc", "")


def test_long_desc_is_summarised() -> None:
    root = parse(bar_chart([(str(i), i) for i in range(100)], title="Many"))
    assert "and 76 more" in root.findtext(f"{SVG}desc", "")


# --- Lines ------------------------------------------------------------------------------


def test_line_chart_draws_each_series_with_a_legend() -> None:
    weeks = [f"W{n}" for n in range(1, 6)]
    svg = line_chart(
        {
            "On time": [(w, 0.8 + n / 100) for n, w in enumerate(weeks)],
            "Replied in time": [(w, 0.6) for w in weeks],
        },
        title="SLA compliance",
        percent=True,
    )
    root = parse(svg)
    assert len(by_class(root, "series")) == 2
    assert len(by_class(root, "point")) == 10
    assert texts(root, "legend-item") == ["On time", "Replied in time"]
    assert texts(root, "x-label") == weeks
    assert texts(root, "y-label") == ["0%", "20%", "40%", "60%", "80%", "100%"]
    dashes = [
        (line.get("stroke"), line.get("stroke-dasharray"))
        for line in root.iter(f"{SVG}path")
        if line.get("class") == "line"
    ]
    assert len(set(dashes)) == 2  # told apart by colour and by dash


def test_line_chart_breaks_at_missing_values() -> None:
    root = parse(line_chart({"a": [("1", 1), ("2", None), ("3", 3)]}, title="Gap"))
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("class") == "line"]
    assert path.get("d", "").count("M") == 2
    assert len(by_class(root, "point")) == 2


def test_line_chart_takes_labels_of_every_series() -> None:
    root = parse(line_chart({"a": [("Mon", 1)], "b": [("Mon", 2), ("Tue", 3)]}, title="Mixed"))
    assert texts(root, "x-label") == ["Mon", "Tue"]


# --- Horizontal bars --------------------------------------------------------------------


def test_hbar_chart_labels_each_row_and_its_value() -> None:
    rows = [("设施设备", 42), ("Service quality", 17), ("Other", 0)]
    root = parse(hbar_chart(rows, title="By category"))
    assert texts(root, "row-label") == ["设施设备", "Service quality", "Other"]
    assert texts(root, "value") == ["42", "17", "0"]
    widths = [float(rect(bar).get("width", "0")) for bar in by_class(root, "bar")]
    assert widths[0] > widths[1] > widths[2]


def test_hbar_chart_shortens_long_labels_but_keeps_them_in_the_tooltip() -> None:
    label = "城市管理局" * 10
    root = parse(hbar_chart([(label, 1)], title="Long"))
    (shown,) = texts(root, "row-label")
    assert shown.endswith("…")
    assert len(shown) < len(label)
    assert bar_tooltips(root) == [f"{label}: 1"]


def test_hbar_chart_in_percent() -> None:
    root = parse(hbar_chart([("web", 0.875), ("hotline", 0.5)], title="On time", percent=True))
    assert texts(root, "value") == ["87.5%", "50%"]
    assert texts(root, "x-tick")[-1] == "100%"


# --- Satisfaction -----------------------------------------------------------------------


def test_distribution_shows_every_score_with_its_share() -> None:
    root = parse(distribution_chart({5: 6, 4: 3, 1: 1, 7: 99}, title="Satisfaction"))
    assert texts(root, "x-label") == ["1", "2", "3", "4", "5"]
    assert texts(root, "value") == ["1 (10%)", "0 (0%)", "0 (0%)", "3 (30%)", "6 (60%)"]
    assert "average score 4.30" in root.findtext(f"{SVG}desc", "")
    colours = {rect(bar).get("fill") for bar in by_class(root, "bar")}
    assert len(colours) == 5


def test_distribution_takes_negative_or_missing_counts_as_none() -> None:
    root = parse(distribution_chart({1: -3, 2: None, 5: 2}, title="S"))  # type: ignore[dict-item]
    assert texts(root, "value")[4] == "2 (100%)"
