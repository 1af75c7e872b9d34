"""Alembic environment. The bot always hands Alembic an open connection (storage.migrate), so
migrations run inside the bot's event loop on the same async driver as everything else."""

from alembic import context

from storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `producer-bot db upgrade`")



def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # slack_sdk creates and owns its installation and OAuth state tables.
    return not (type_ == "table" and name and name.startswith("slack_"))


# render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True, include_object=include_object)
with context.begin_transaction():
    context.run_migrations()
