"""``make bench``: every benchmark in turn; their numbers go to bench/RESULTS.md by hand."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ["bench.classify", "bench.sla_sweep", "bench.reports"]


def main() -> int:
    failed = 0
    for module in sys.argv[1:] or BENCHMARKS:
        print(f"== {module}", flush=True)
        # Each in its own process: the SLA benchmark points Django at its own database.
        failed += subprocess.call([sys.executable, "-m", module]) != 0  # noqa: S603 (our modules)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
