"""Both catalogs complete, compiled, and in step with the source."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ["zh_Hans", "en"]


def catalog(locale: str) -> polib.POFile:
    return polib.pofile(str(ROOT / "locale" / locale / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    po = catalog(locale)
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_survive_translation(locale: str) -> None:
    import re

    pattern = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    for entry in catalog(locale).translated_entries():
        if not entry.msgid_plural:
            assert sorted(pattern.findall(entry.msgid)) == sorted(pattern.findall(entry.msgstr)), (
                entry.msgid
            )
            continue
        # Plural forms: each may drop the count ("one petition"), none may invent a
        # placeholder, and the last (general) form keeps every placeholder of the plural.
        source = set(pattern.findall(entry.msgid)) | set(pattern.findall(entry.msgid_plural))
        forms = [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)]
        for form in forms:
            assert set(pattern.findall(form)) <= source, entry.msgid_plural
        assert set(pattern.findall(forms[-1])) == set(pattern.findall(entry.msgid_plural)), (
            entry.msgid_plural
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalog_matches_the_source(locale: str) -> None:
    po = catalog(locale)
    mo = polib.mofile(str(ROOT / "locale" / locale / "LC_MESSAGES" / "django.mo"))
    compiled = {(e.msgctxt, e.msgid): e.msgstr for e in mo}
    for entry in po.translated_entries():
        assert compiled.get((entry.msgctxt, entry.msgid)) == entry.msgstr, entry.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (xgettext)")
def test_the_catalogs_hold_every_string_of_the_source(tmp_path: Path) -> None:
    """Extract afresh into a copy; no msgid may be missing from the committed catalog."""
    shutil.copytree(ROOT, tmp_path / "src", ignore=shutil.ignore_patterns(".venv", "var", ".git"))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "zh_Hans", "--no-obsolete",
         "--ignore", "tests/*", "--ignore", "bench/*"],
        cwd=tmp_path / "src", check=True, capture_output=True,
    )  # fmt: skip
    fresh = polib.pofile(str(tmp_path / "src/locale/zh_Hans/LC_MESSAGES/django.po"))
    committed = {(e.msgctxt, e.msgid) for e in catalog("zh_Hans")}
    missing = [e.msgid for e in fresh if (e.msgctxt, e.msgid) not in committed]
    assert missing == [], "run `make messages` and translate the new strings"


@pytest.mark.parametrize("locale", ["zh_Hans"])
def test_our_catalog_does_not_retranslate_djangos_own_strings(locale: str) -> None:
    """Our catalog wins over Django's for the same msgid: "Close" once became 办结 in the
    admin. A word we need differently gets its own msgid or a context."""
    import django

    ours = {(e.msgctxt, e.msgid): e.msgstr for e in catalog(locale)}
    clashes = []
    for path in Path(django.__file__).parent.glob(f"**/locale/{locale}/LC_MESSAGES/django.po"):
        for entry in polib.pofile(str(path)):
            mine = ours.get((entry.msgctxt, entry.msgid))
            if entry.msgstr and mine is not None and mine != entry.msgstr:
                clashes.append(f"{entry.msgid!r}: Django {entry.msgstr} ≠ ours {mine}")
    assert clashes == []
