"""One table for every benchmark: each module reports rows, ``make bench`` prints them all.

A benchmark module builds :class:`Row` objects and hands them to :func:`publish`, which
prints them as a table and, when ``make bench`` runs the module (``BENCH_RESULT_FILE`` set),
also writes them as JSON for the summary at the end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    ours: float | None
    unit: str
    peer: float | None = None
    target: str = ""
    met: bool | None = None
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        """How many times better we are than the peer (above 1: better)."""
        if self.ours is None or self.peer is None or not self.ours or not self.peer:
            return None
        return self.ours / self.peer if self.higher_is_better else self.peer / self.ours


def figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def render(rows: Sequence[Row]) -> str:
    header = ("measure", "Sutong", "django-helpdesk", "ratio", "target", "")
    lines = []
    section = None
    body: list[tuple[str, ...]] = []
    for row in rows:
        if row.section != section:
            section = row.section
            body.append((f"[{section}]", "", "", "", "", ""))
        ratio = row.ratio
        body.append(
            (
                "  " + row.measure,
                figure(row.ours, row.unit),
                figure(row.peer, row.unit) if row.peer is not None else "",
                f"{ratio:.1f}×" if ratio is not None else "",
                row.target,
                "" if row.met is None else ("ok" if row.met else "MISSED"),
            )
        )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip())
    lines.append("  ".join("-" * width for width in widths))
    for line in body:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def publish(rows: Iterable[Row]) -> list[Row]:
    rows = list(rows)
    print(render(rows), flush=True)
    out = os.environ.get("BENCH_RESULT_FILE")
    if out:
        path = Path(out)
        earlier = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(earlier + [asdict(row) for row in rows], indent=1))
    return rows


def load(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [Row(**item) for item in json.loads(path.read_text())]
