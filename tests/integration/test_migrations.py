"""The Alembic migrations build exactly the schema the models describe, on SQLite (the embedded
default) and on the configured test database (PostgreSQL in CI), and can be undone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, inspect, pool, text

from exchange import migrate
from exchange.app import create_app
from exchange.cli import main
from exchange.config import load_config
from exchange.models import Base

pytestmark = pytest.mark.integration


def _app(tmp_path: Path, url: str) -> Flask:
    env = {"EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"), "EXCHANGE_DATABASE_URL": url}
    return create_app(load_config(env=env, testing=True))


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _upgrade_then_check(app: Flask, url: str) -> None:
    migrate.upgrade(app)
    assert migrate.current(app) == migrate.head() is not None
    migrate.check(app)  # raises SchemaMismatch on any difference
    assert _tables(url) == set(Base.metadata.tables) | {"alembic_version"}


def test_migrations_upgrade_head_matches_models_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    _upgrade_then_check(_app(tmp_path, url), url)


def test_migrations_upgrade_head_matches_models(tmp_path: Path, database_url: str) -> None:
    _upgrade_then_check(_app(tmp_path, database_url), database_url)


def test_migrations_downgrade_base_then_upgrade_again(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url)
    migrate.upgrade(app)
    migrate.downgrade(app, "base")
    assert _tables(database_url) == {"alembic_version"}
    assert migrate.current(app) is None
    _upgrade_then_check(app, database_url)


def test_migrations_upgrade_twice_is_a_no_op(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url)
    migrate.upgrade(app)
    migrate.upgrade(app)
    migrate.check(app)


def test_migrations_check_reports_an_unmigrated_database(tmp_path: Path, database_url: str) -> None:
    with pytest.raises(migrate.SchemaMismatch) as raised:
        migrate.check(_app(tmp_path, database_url))
    assert f"database at revision None, latest is {migrate.head()}" in raised.value.problems
    assert "add_table organisation" in raised.value.problems


def test_migrations_check_reports_schema_drift(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url)
    migrate.upgrade(app)
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE audit_head"))
        connection.execute(text("ALTER TABLE ref_region ADD COLUMN stray INTEGER"))
    engine.dispose()
    with pytest.raises(migrate.SchemaMismatch) as raised:
        migrate.check(app)
    assert sorted(raised.value.problems) == [
        "add_table audit_head",
        "remove_column ref_region.stray",
    ]


def test_migrations_cli_upgrade_and_check(tmp_path: Path, database_url: str) -> None:
    runner = _app(tmp_path, database_url).test_cli_runner()
    before = runner.invoke(main, ["db", "check"])
    assert before.exit_code == 1
    assert "add_table user_account" in before.stderr
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"database at revision {migrate.head()}\n"
    after = runner.invoke(main, ["db", "check"])
    assert after.exit_code == 0, after.output
    assert after.stdout == f"database matches the models at revision {migrate.head()}\n"


def test_migrations_revision_finds_nothing_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Autogenerating against the latest revision (in a copy of the migrations) gives an empty
    # migration: the committed ones cover every model. The hooks leave it lint-clean.
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy)
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    latest = migrate.head()
    (written,) = migrate.revision("nothing to do")
    assert written.parent == copy / "versions"
    source = written.read_text()
    assert f'down_revision: str | Sequence[str] | None = "{latest}"' in source
    body = source.split("def upgrade() -> None:")[1].split("def downgrade() -> None:")[0]
    statements = [line.strip() for line in body.splitlines() if line.strip()]
    assert [line for line in statements if not line.startswith("#")] == ["pass"]
