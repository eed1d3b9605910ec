"""Alembic environment. The engine is handed in by ``catalogue.upgrade``; the CLI form
(``alembic -x url=...``) is supported for developers writing new revisions."""

from alembic import context
from sqlmodel import SQLModel

from deepdiary.memory import tables  # noqa: F401  (registers the tables)
from deepdiary.memory.catalogue import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
            "sqlalchemy.url"
        )
        engine = make_engine(url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite can only ALTER through table copies
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
