"""Index the console's search on PostgreSQL (``complaints.queues.search``); SQLite unchanged.

Measured at 1,000,000 complaints (``python -m bench.scale``): without these, every search
read every complaint in the user's scope, 1–3 s for a supervisor.

* **Substring search in Chinese: bigrams.** pg_trgm does handle Chinese characters in this
  database's locale (``C.UTF-8``: ``show_trgm('路灯坏了')`` gives five trigrams), but a
  trigram index needs three characters in a row, and ``ILIKE '%路灯%'`` — a two-character
  word, the usual Chinese search term — has none: PostgreSQL reads the whole table. So
  ``sutong_bigrams(text)`` lists the text's pairs of adjacent characters (lower-cased), and
  a GIN index over title and content answers "which rows hold every pair of the term";
  the ``ILIKE`` then checks the order. It serves English words as well (pairs of
  letters), with one index instead of two.
* **Full-text match** (``SearchVector`` over title and content, config ``simple``): a GIN
  index over the very expression Django writes.
* **Petitioners** (for those who may see personal data): bigrams over name and e-mail,
  and the phone reversed, so that "the number ends in 45678" is an indexed prefix match.

Built ``CONCURRENTLY`` (the migration is not atomic): complaints keep arriving while a
large table is indexed. A failed concurrent build leaves an invalid index; run the
migration again after dropping it.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

# COST: computing the pairs of every row is what the index is for; told it is cheap, the
# planner would do that for a common term (a sequential scan: 90 s at a million).
# Two passes of non-overlapping pairs, the second shifted by one character: every pair,
# with repeats (GIN keeps each key once per row). Written with regexp_matches because the
# obvious substr() per position is quadratic on multibyte text: 1.7 ms a complaint
# against 0.08 ms, 28 minutes against 80 s to index a million.
FUNCTION = """
CREATE OR REPLACE FUNCTION sutong_bigrams(text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
    SELECT ARRAY(SELECT (regexp_matches(lower($1), '..', 'g'))[1])
        || ARRAY(SELECT (regexp_matches(substr(lower($1), 2), '..', 'g'))[1])
$$
"""
INDEXES = {
    "complaint_text_bigrams": (
        "complaints_complaint USING gin (sutong_bigrams(title || ' ' || content))"
    ),
    "complaint_text_search": (
        "complaints_complaint USING gin (to_tsvector('simple'::regconfig, "
        "COALESCE(title, '') || ' ' || COALESCE(content, '')))"
    ),
    "petitioner_bigrams": "complaints_petitioner USING gin (sutong_bigrams(name || ' ' || email))",
    "petitioner_phone_reversed": "complaints_petitioner (reverse(phone) text_pattern_ops)",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    # Bigram lists are long: a larger sort area builds the GIN indexes several times faster.
    schema_editor.execute("SET maintenance_work_mem = '256MB'")
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")
    schema_editor.execute("RESET maintenance_work_mem")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute("DROP FUNCTION IF EXISTS sutong_bigrams(text)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("complaints", "0014_event_anonymisation")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
