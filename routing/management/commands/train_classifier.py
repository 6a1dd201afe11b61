"""Train a new classifier version on confirmed complaints and the demo corpus, and activate it.

``train_classifier [--no-corpus] [--corpus PATH] [--no-activate]``. Every web and worker
process picks the new version up within ``CLASSIFIER_RECHECK_SECONDS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing import model_store


class Command(BaseCommand):
    help = "Train the category/priority classifier and make the new version the active one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-corpus",
            action="store_true",
            help="train on classified complaints only, without the demo corpus",
        )
        parser.add_argument(
            "--corpus", type=Path, default=None, help="a JSON-lines corpus instead of the demo one"
        )
        parser.add_argument(
            "--no-activate", action="store_true", help="save the new version but keep the old one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_corpus"] and options["corpus"]:
            raise CommandError("--corpus and --no-corpus contradict each other.")
        try:
            result = model_store.retrain(
                include_corpus=not options["no_corpus"],
                corpus_path=options["corpus"],
                activate=not options["no_activate"],
            )
        except model_store.NotEnoughData as exc:
            raise CommandError(str(exc)) from exc
        except (OSError, ValueError) as exc:  # unreadable or malformed corpus
            raise CommandError(f"Cannot train: {exc}") from exc
        cv = result.metrics["cross_validated"]
        thresholds = result.metrics["thresholds"]
        self.stdout.write(
            f"Trained classifier v{result.version} on {result.samples} samples "
            f"({'active' if result.active else 'not activated'})."
        )
        self.stdout.write(
            f"Cross-validated ({cv['folds']} folds): category accuracy "
            f"{cv['category_accuracy']:.1%}, urgent+critical recall "
            f"{_percent(cv['urgent_critical_recall'])}, normal graded urgent or critical "
            f"{_percent(cv['normal_raised'])}."
        )
        self.stdout.write(
            f"Priority thresholds: critical ≥ {thresholds['critical']:.3f}, "
            f"urgent+critical ≥ {thresholds['urgent']:.3f}."
        )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
