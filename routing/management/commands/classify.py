"""Classify a text as routing would: ``classify --json "TEXT"``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.decide import decide


class Command(BaseCommand):
    help = "Show the category, priority and confidence routing gives a text, and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", help="the complaint's text (title and content)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        text = options["text"].strip()
        if not text:
            raise CommandError("Give the text to classify.")
        decision = decide(text)
        if options["json"]:
            self.stdout.write(json.dumps(decision.as_dict(), ensure_ascii=False))
            return
        self.stdout.write(f"category:   {decision.category or '-'}")
        self.stdout.write(f"priority:   {decision.priority}")
        self.stdout.write(
            f"confidence: {decision.confidence:.2f} "
            f"({'automatic' if decision.sure else 'dispatcher decides'})"
        )
        self.stdout.write(f"sensitive:  {'yes' if decision.sensitive else 'no'}")
        for hit in decision.matched:
            self.stdout.write(
                f"  phrase {hit['phrase']!r} → {hit['category'] or '-'} (weight {hit['weight']})"
            )
        for feature, weight in decision.explanation[:8]:
            self.stdout.write(f"  model  {feature!r} {weight:+.3f}")
