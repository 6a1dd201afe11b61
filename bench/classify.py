"""Benchmark: routing's classifier, one complaint and in batch, on one core.

    python -m bench.classify

Targets (issue 4): one classification under 5 ms; at least 1,000 per second per core in
batch. Trained on three quarters of the demo corpus, timed on the held-out quarter (each
prediction with its explanation), with BLAS limited to one thread.
"""

from __future__ import annotations

import json
import os
from typing import Any

from bench.table import Row, publish


def main() -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from routing import classifier
    from routing.management.commands.evaluate_classifier import evaluate

    report = evaluate(classifier.load_corpus(), test_size=0.25, seed=0)
    result = {
        "single_ms": {
            "median": round(report["speed"]["single_ms_median"], 3),
            "p95": round(report["speed"]["single_ms_p95"], 3),
        },
        "batch_per_second": round(report["speed"]["batch_per_second"]),
        "training_seconds": report["training"]["seconds"],
        "category_accuracy": round(report["category"]["accuracy"], 3),
        "urgent_critical_recall": round(report["priority"]["urgent_critical_recall"], 3),
        "targets": {
            "single_p95_under_5_ms": report["speed"]["single_ms_p95"] < 5.0,
            "batch_over_1000_per_second": report["speed"]["batch_per_second"] >= 1000,
        },
    }
    print(json.dumps(result, indent=2))
    section = "classification (one core)"
    speed = report["speed"]
    publish(
        [
            Row(section, "one complaint, p95", speed["single_ms_p95"], "ms", target="< 5 ms",
                met=speed["single_ms_p95"] < 5.0),
            Row(section, "batch throughput", speed["batch_per_second"], "/s", target="≥ 1,000/s",
                met=speed["batch_per_second"] >= 1000, higher_is_better=True),
            Row(section, "category accuracy, held out", 100 * report["category"]["accuracy"],
                "%", target="≥ 90 %", met=report["category"]["accuracy"] >= 0.9,
                higher_is_better=True),
        ]
    )  # fmt: skip
    return result


if __name__ == "__main__":
    main()
