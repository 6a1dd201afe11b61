"""Let the append-only event table accept exactly one kind of change: anonymisation.

Personal data must go when its retention period ends or on an erasure request, also from
the audit trail (note bodies, reasons, supplied details). The trail itself must stay: who
did what, when, from which state to which. So the database now allows one UPDATE of an
event, and only this one:

* every column except ``payload`` keeps its value (kind, actor, states, time, complaint);
* the new payload is a JSON object carrying ``"anonymised": true``;
* the old payload did not carry it yet — a line is anonymised once, and an anonymised line
  is frozen again, even against a rewrite that keeps the marker.

Everything else is refused as before; deletes stay refused on PostgreSQL (SQLite keeps
allowing them, because its test teardown empties tables with DELETE). The only code that
writes such an update is ``complaints.retention``.

PostgreSQL compares the whole row except the payload (``to_jsonb(row) - 'payload'``), so
a column added later is protected without touching the trigger. SQLite names the columns:
a migration that adds a column to ``complaints_event`` must recreate its trigger (a test
checks that the trigger names every column).
"""

from typing import Any

from django.db import migrations

# "%%" because the schema editor passes the SQL through parameter substitution.
POSTGRES_UP = """
CREATE OR REPLACE FUNCTION complaints_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload')
       AND jsonb_typeof(NEW.payload) = 'object'
       AND NEW.payload -> 'anonymised' = 'true'::jsonb
       AND (OLD.payload -> 'anonymised') IS DISTINCT FROM 'true'::jsonb
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'complaints_event is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
# The function of 0002: every UPDATE and DELETE refused.
POSTGRES_DOWN = """
CREATE OR REPLACE FUNCTION complaints_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'complaints_event is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_UP = """
CREATE TRIGGER complaints_event_append_only BEFORE UPDATE ON complaints_event
WHEN NOT (
    NEW.id IS OLD.id
    AND NEW.complaint_id IS OLD.complaint_id
    AND NEW.kind IS OLD.kind
    AND NEW.actor_id IS OLD.actor_id
    AND NEW.actor_label IS OLD.actor_label
    AND NEW.from_state IS OLD.from_state
    AND NEW.to_state IS OLD.to_state
    AND NEW.created_at IS OLD.created_at
    AND json_valid(NEW.payload)
    AND json_type(NEW.payload) = 'object'
    AND json_type(NEW.payload, '$.anonymised') IS 'true'
    AND json_type(OLD.payload, '$.anonymised') IS NOT 'true'
)
BEGIN SELECT RAISE(ABORT, 'complaints_event is append-only (UPDATE refused)'); END;
"""
SQLITE_DOWN = """
CREATE TRIGGER complaints_event_append_only BEFORE UPDATE ON complaints_event
BEGIN SELECT RAISE(ABORT, 'complaints_event is append-only (UPDATE refused)'); END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS complaints_event_append_only;"


def forwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)
        schema_editor.execute(SQLITE_UP)


def backwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)
        schema_editor.execute(SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0013_grant_closing_the_loop_permissions")]

    operations = [migrations.RunPython(forwards, backwards)]
