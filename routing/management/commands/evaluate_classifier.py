"""Measure the classifier on a held-out part of the labelled corpus.

``evaluate_classifier [--corpus PATH] [--test-size 0.25] [--seed 0] [--json]``

The corpus is split once, stratified by category × priority × language; the model is
trained on one part (its thresholds are tuned by cross-validation inside that part only)
and judged on the other, which it never saw. It reports against the product's targets
but exits non-zero only on errors: a missed target is a finding, not a crash.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from threadpoolctl import threadpool_limits

from routing import classifier
from routing.classifier import LabelledText, TrainedModel

CATEGORY_ACCURACY_TARGET = 0.90
RECALL_TARGET = classifier.RECALL_TARGET
LATENCY_TARGET_MS = 5.0
THROUGHPUT_TARGET = 1000.0


class Command(BaseCommand):
    help = "Train on part of the labelled corpus and report accuracy, recall and speed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, default=classifier.DEFAULT_CORPUS)
        parser.add_argument("--test-size", type=float, default=0.25)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["test_size"] < 1:
            raise CommandError("--test-size is a fraction between 0 and 1.")
        try:
            samples = classifier.load_corpus(options["corpus"])
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the corpus: {exc}") from exc
        if len({s.category for s in samples}) < 2 or len(samples) < 20:
            raise CommandError(f"{len(samples)} samples are too few to evaluate on.")
        report = evaluate(samples, test_size=options["test_size"], seed=options["seed"])
        report["corpus"] = str(options["corpus"])
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(render(report))


def evaluate(samples: Sequence[LabelledText], *, test_size: float, seed: int) -> dict[str, Any]:
    train, test = classifier.stratified_split(samples, test_size=test_size, seed=seed)
    model = classifier.train(train, classifier.TrainingOptions(seed=seed))
    texts = [s.text for s in test]
    with threadpool_limits(limits=1):  # "per core": no BLAS threads helping out
        predictions = model.predict_many(texts)
        speed = _speed(model, texts)
    categories = model.categories
    truth = [s.category for s in test]
    guessed = [p.category for p in predictions]
    hits = [t == g for t, g in zip(truth, guessed, strict=True)]
    priority = classifier.priority_outcome(
        [p.priority for p in predictions], test_priorities := [s.priority for s in test]
    )
    by_category = {
        c: _accuracy([h for h, t in zip(hits, truth, strict=True) if t == c]) for c in categories
    }
    languages = sorted({s.language or "?" for s in test})
    by_language = {
        lang: _accuracy([h for h, s in zip(hits, test, strict=True) if (s.language or "?") == lang])
        for lang in languages
    }
    accuracy = _accuracy(hits) or 0.0
    recall = priority["urgent_critical_recall"]
    return {
        "samples": {
            "total": len(samples),
            "train": len(train),
            "test": len(test),
            "test_by_language": dict(Counter(s.language or "?" for s in test)),
            "test_by_priority": dict(Counter(test_priorities)),
        },
        "seed": seed,
        "category": {
            "accuracy": accuracy,
            "by_category": by_category,
            "by_language": by_language,
            "labels": categories,
            # rows: true category, columns: predicted, both in ``labels`` order
            "confusion": _confusion(truth, guessed, categories),
        },
        "priority": {
            **priority,
            "by_language": {
                lang: classifier.priority_outcome(
                    [
                        p.priority
                        for p, s in zip(predictions, test, strict=True)
                        if s.language == lang
                    ],
                    [s.priority for s in test if s.language == lang],
                )
                for lang in languages
            },
            "labels": list(classifier.PRIORITIES),
            "confusion": _confusion(
                test_priorities, [p.priority for p in predictions], list(classifier.PRIORITIES)
            ),
            "thresholds": model.metrics["thresholds"],
        },
        "speed": speed,
        "training": {
            "seconds": model.metrics["training_seconds"],
            "features": model.metrics["features"],
            "cross_validated": model.metrics["cross_validated"],
        },
        "targets": {
            "category_accuracy": _target(accuracy, CATEGORY_ACCURACY_TARGET),
            "urgent_critical_recall": _target(recall, RECALL_TARGET),
            "single_prediction_ms": _target(
                speed["single_ms_p95"], LATENCY_TARGET_MS, higher_is_better=False
            ),
            "batch_per_second": _target(speed["batch_per_second"], THROUGHPUT_TARGET),
        },
    }


def _speed(model: TrainedModel, texts: list[str]) -> dict[str, float]:
    """Latency of one prediction (with its explanation) and batch throughput, this machine."""
    for text in texts[:20]:  # warm up caches and lazy imports
        model.predict(text)
    latencies = []
    for text in texts:
        started = time.perf_counter()
        model.predict(text)
        latencies.append((time.perf_counter() - started) * 1000)
    batch = texts * max(1, -(-2000 // len(texts)))  # at least 2,000 complaints
    started = time.perf_counter()
    model.predict_many(batch)
    elapsed = time.perf_counter() - started
    return {
        "single_ms_median": statistics.median(latencies),
        "single_ms_p95": float(np.percentile(latencies, 95)),
        "batch_size": len(batch),
        "batch_per_second": len(batch) / elapsed,
    }


def _accuracy(hits: Sequence[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def _confusion(truth: Sequence[str], guessed: Sequence[str], labels: list[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, g in zip(truth, guessed, strict=True):
        if t in index and g in index:
            matrix[index[t]][index[g]] += 1
    return matrix


def _target(value: float | None, target: float, *, higher_is_better: bool = True) -> dict[str, Any]:
    met = value is not None and (value >= target if higher_is_better else value <= target)
    return {"value": value, "target": target, "met": met}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:6.1%}"


def render(report: dict[str, Any]) -> str:
    n = report["samples"]
    cat = report["category"]
    pri = report["priority"]
    speed = report["speed"]
    lines = [
        f"Corpus {report['corpus']}: {n['total']} samples, trained on {n['train']}, "
        f"tested on {n['test']} held out (seed {report['seed']}).",
        "",
        f"Category accuracy: {_pct(cat['accuracy'])}",
    ]
    lines += [f"  {code:<16} {_pct(acc)}" for code, acc in cat["by_category"].items()]
    lines += [f"  language {lang:<7} {_pct(acc)}" for lang, acc in cat["by_language"].items()]
    labels = cat["labels"]
    width = max(len(label) for label in labels)
    short = [label[:6] for label in labels]
    lines += ["", "Confusion (rows: true, columns: predicted)"]
    lines.append(" " * (width + 2) + " ".join(f"{s:>6}" for s in short))
    for label, row in zip(labels, cat["confusion"], strict=True):
        lines.append(f"  {label:<{width}}" + " ".join(f"{v:>6}" for v in row))
    lines += [
        "",
        f"Urgent+critical recall:           {_pct(pri['urgent_critical_recall'])}"
        "  (urgent graded critical or back counts as caught)",
        f"Normal graded urgent or critical: {_pct(pri['normal_raised'])}",
        f"Critical graded critical:         {_pct(pri['critical_recall'])}",
        f"Priority accuracy:                {_pct(pri['priority_accuracy'])}",
    ]
    for lang, outcome in pri["by_language"].items():
        lines.append(
            f"  language {lang}: recall {_pct(outcome['urgent_critical_recall'])}, "
            f"normal raised {_pct(outcome['normal_raised'])}"
        )
    lines.append("Priority confusion (rows: true, columns: predicted)")
    lines.append(" " * 12 + " ".join(f"{p:>9}" for p in pri["labels"]))
    for label, row in zip(pri["labels"], pri["confusion"], strict=True):
        lines.append(f"  {label:<10}" + " ".join(f"{v:>9}" for v in row))
    t = pri["thresholds"]
    lines.append(
        f"Thresholds (from cross-validation on the training part): "
        f"critical ≥ {t['critical']:.3f}, urgent+critical ≥ {t['urgent']:.3f}"
    )
    lines += [
        "",
        f"One prediction: median {speed['single_ms_median']:.2f} ms, "
        f"p95 {speed['single_ms_p95']:.2f} ms",
        f"Batch: {speed['batch_per_second']:,.0f} complaints/second "
        f"({speed['batch_size']} complaints, one thread)",
        f"Training: {report['training']['seconds']:.1f} s, "
        f"{report['training']['features']:,} features",
        "",
        "Targets:",
    ]
    names = {
        "category_accuracy": "category accuracy",
        "urgent_critical_recall": "urgent+critical recall",
        "single_prediction_ms": "one prediction, p95 (ms)",
        "batch_per_second": "batch, per second",
    }
    for key, target in report["targets"].items():
        value = target["value"]
        shown = "n/a" if value is None else f"{value:.3f}" if value < 10 else f"{value:,.0f}"
        mark = "met" if target["met"] else "MISSED"
        lines.append(f"  {names[key]:<26} {shown:>8}  target {target['target']:g}  {mark}")
    return "\n".join(lines)
