"""Make the event table append-only in the database itself.

PostgreSQL refuses UPDATE and DELETE on complaints_event (TRUNCATE, used only by test
teardown, is a separate statement and stays allowed). SQLite refuses UPDATE; deletes
stay possible there because its test teardown empties tables with DELETE.
"""

from django.db import migrations

# "%%" because the schema editor passes the SQL through parameter substitution.
POSTGRES_UP = """
CREATE OR REPLACE FUNCTION complaints_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'complaints_event is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER complaints_event_append_only
    BEFORE UPDATE OR DELETE ON complaints_event
    FOR EACH ROW EXECUTE FUNCTION complaints_event_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS complaints_event_append_only ON complaints_event;
DROP FUNCTION IF EXISTS complaints_event_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER complaints_event_append_only BEFORE UPDATE ON complaints_event
BEGIN SELECT RAISE(ABORT, 'complaints_event is append-only (UPDATE refused)'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS complaints_event_append_only;"


def forwards(apps, schema_editor):
    sql = {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    sql = {"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
