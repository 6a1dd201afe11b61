"""``make bench``: every benchmark in turn, then one table of all their figures.

    python -m bench                      # everything (PostgreSQL, Redis, wrk; ~40 min)
    python -m bench bench.intake         # one of them

Each runs in its own process (each points Django at its own database) and adds its rows
to a results file; the table at the end is what bench/RESULTS.md records, by hand, with
the date and the machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.table import load, render

BENCHMARKS = ["bench.intake", "bench.scale", "bench.sla_sweep", "bench.reports", "bench.classify"]


def machine() -> str:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} cores ({cpu}), {memory}, Python {platform.python_version()}"


def main() -> int:
    failed = []
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "rows.json"
        for module in sys.argv[1:] or BENCHMARKS:
            print(f"== {module}", flush=True)
            code = subprocess.call(  # noqa: S603 (our modules)
                [sys.executable, "-m", module],
                env={**os.environ, "BENCH_RESULT_FILE": str(results)},
            )
            if code:
                failed.append(module)
        rows = load(results)
    print(f"\n== Sutong benchmarks, {datetime.now(UTC):%Y-%m-%d}, {machine()}\n")
    print(render(rows))
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
