"""Make the English catalog complete: source strings are English, so msgstr = msgid.

Run by ``make messages`` after ``makemessages``; an entry someone reworded by hand keeps
its wording (only empty and fuzzy entries are filled).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Fill empty and fuzzy entries of locale/en with their English source text."

    def handle(self, *args: Any, **options: Any) -> None:
        import polib  # a development dependency; production never runs this

        path = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
        catalog = polib.pofile(str(path))
        filled = 0
        for entry in catalog:
            fuzzy = "fuzzy" in entry.flags
            if entry.msgid_plural and (fuzzy or not any(entry.msgstr_plural.values())):
                entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
                filled += 1
            elif not entry.msgid_plural and (fuzzy or not entry.msgstr):
                entry.msgstr = entry.msgid
                filled += 1
            if fuzzy:
                entry.flags.remove("fuzzy")
        catalog.save()
        self.stdout.write(f"English catalog: {filled} entries filled, {len(catalog)} in all.")
