"""Context datasets (exchange.actions.context and ``exchange context``): administrators only, a
file lands whole or not at all with its audit event, later files replace what they cover, and
what is stored feeds the "similar challenges" sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.actions import context as actions
from exchange.actions.organisations import ensure_default_organisations
from exchange.cli import main
from exchange.extensions import db
from exchange.models import (
    AuditEvent,
    ContextDataset,
    ContextValue,
    Organisation,
    OrganisationKind,
    Role,
)
from exchange.security.policy import Principal
from exchange.security.principals import system_principal
from schemas.context import CONTEXT_VARIABLES, ContextFileError, context_columns
from schemas.reference import UnknownCodeError, load_reference
from workers.analytics.similar import DEFAULT_SETS, ContextFrame, similar_sets

ADMIN = Principal("user:admin@platform.example", Role.ADMINISTRATOR, 1, OrganisationKind.PLATFORM)
SUBMITTER = Principal(
    "user:sam@durham.example", Role.LA_SUBMITTER, 2, OrganisationKind.LOCAL_AUTHORITY
)
ANALYST = Principal("user:ana@dfe.example", Role.ANALYST, 3, OrganisationKind.NATIONAL)
SYSTEM = system_principal("system:test")
FORBIDDEN_KEYS = {"value", "values", "numerator", "denominator", "cells", "row"}

HEADER = context_columns()
DURHAM = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": "Local authority",
    "country_code": "E92000001",
    "country_name": "England",
    "region_code": "E12000001",
    "region_name": "North East",
    "old_la_code": "840",
    "new_la_code": "E06000047",
    "la_name": "County Durham",
    "child_population": "103417",
    "idaci_score": "0.215",
    "spend_per_child": "1251",
    "uasc_per_10k": "3.5",
    "inflow_families": "1.2",
}
CAMDEN = {
    **DURHAM,
    "region_code": "E13000001",
    "region_name": "Inner London",
    "old_la_code": "202",
    "new_la_code": "E09000007",
    "la_name": "Camden",
    "child_population": "36911",
    "idaci_score": "0.281",
}


def csv_bytes(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    header = header or HEADER
    lines = [",".join(header)] + [",".join(r.get(c, "") for c in header) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def session(db_app: Flask) -> Iterator[Session]:
    with db_app.app_context():
        yield db.session
        db.session.close()


def stored(session: Session) -> dict[tuple[str, str, str], tuple[float | None, int]]:
    rows = session.execute(
        select(
            ContextValue.la_code,
            ContextValue.period,
            ContextValue.variable,
            ContextValue.value,
            ContextValue.dataset_id,
        )
    ).all()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# ------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("actor", [SUBMITTER, ANALYST], ids=["la_submitter", "analyst"])
def test_load_context_administrators_only(session: Session, actor: Principal) -> None:
    with pytest.raises(PermissionError):
        actions.load_context(session, actor, csv_bytes([DURHAM]), "context.csv")
    assert session.scalar(select(func.count(ContextDataset.id))) == 0
    assert session.scalar(select(func.count(ContextValue.id))) == 0
    assert session.scalar(select(func.count(AuditEvent.id))) == 0


@pytest.mark.parametrize("actor", [ADMIN, SYSTEM], ids=["administrator", "system"])
def test_load_context_stores_values_and_dataset(session: Session, actor: Principal) -> None:
    dataset = actions.load_context(session, actor, csv_bytes([DURHAM, CAMDEN]), "ctx/2025.csv")
    assert dataset.filename == "2025.csv"
    assert dataset.periods == ["2025"]
    assert dataset.variables == list(CONTEXT_VARIABLES)
    assert dataset.row_count == 2
    assert dataset.loaded_by_label == actor.label
    assert len(dataset.sha256) == 64
    values = stored(session)
    assert len(values) == 2 * len(CONTEXT_VARIABLES)
    assert values[("E06000047", "2025", "child_population")] == (103417.0, dataset.id)
    assert values[("E09000007", "2025", "idaci_score")][0] == pytest.approx(0.281)


def test_load_context_audited_without_values(session: Session) -> None:
    dataset = actions.load_context(session, ADMIN, csv_bytes([DURHAM, CAMDEN]), "ctx.csv")
    [event] = events(session, actions.LOADED)
    assert event.target_id == str(dataset.id)
    assert event.actor_label == ADMIN.label
    details = event.details
    assert details["filename"] == "ctx.csv"
    assert details["periods"] == ["2025"]
    assert details["variables"] == list(CONTEXT_VARIABLES)
    assert (details["las"], details["rows"], details["stored"]) == (2, 2, 10)
    assert details["replaced"] == 0
    assert not FORBIDDEN_KEYS & set(details)
    text = json.dumps(details)
    for figure in ("103417", "36911", "0.281", "1251"):
        assert figure not in text


def test_load_context_invalid_file_stores_nothing(session: Session) -> None:
    actions.load_context(session, ADMIN, csv_bytes([DURHAM]), "first.csv")
    before = stored(session)
    bad = [{**CAMDEN, "idaci_score": "1.4"}, {**DURHAM, "spend_per_child": "9999"}]
    with pytest.raises(ContextFileError) as caught:
        actions.load_context(session, ADMIN, csv_bytes(bad), "bad.csv")
    assert [(p.file, p.row, p.column, p.rule) for p in caught.value.problems] == [
        ("bad.csv", 2, "idaci_score", "value_out_of_range")
    ]
    # Durham's valid row did not land either: the file is refused whole.
    assert stored(session) == before
    assert session.scalar(select(func.count(ContextDataset.id))) == 1
    [event] = events(session, actions.REJECTED)
    assert event.outcome == "refused"
    assert event.details["problems"] == 1
    assert event.details["problems_by_rule"] == {"value_out_of_range": 1}
    assert "1.4" not in json.dumps(event.details)


def test_load_context_failure_rolls_everything_back(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the values are written (here the audit event) leaves nothing behind."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(actions.audit, "record", broken)
    with pytest.raises(RuntimeError):
        actions.load_context(session, ADMIN, csv_bytes([DURHAM, CAMDEN]), "ctx.csv")
    assert session.scalar(select(func.count(ContextDataset.id))) == 0
    assert session.scalar(select(func.count(ContextValue.id))) == 0


def test_load_context_replaces_what_it_covers_and_keeps_the_rest(session: Session) -> None:
    first = actions.load_context(session, ADMIN, csv_bytes([DURHAM, CAMDEN]), "first.csv")
    header = [*HEADER[:10], "spend_per_child", "idaci_score"]
    later_durham = {**DURHAM, "spend_per_child": "1300", "idaci_score": "x"}
    earlier_durham = {**DURHAM, "time_period": "2024", "spend_per_child": "1200"}
    second = actions.load_context(
        session, ADMIN, csv_bytes([later_durham, earlier_durham], header), "second.csv"
    )
    values = stored(session)
    assert values[("E06000047", "2025", "spend_per_child")] == (1300.0, second.id)
    assert values[("E06000047", "2025", "idaci_score")] == (None, second.id), "x replaces"
    assert values[("E06000047", "2024", "spend_per_child")] == (1200.0, second.id)
    # Not covered by the second file: kept from the first.
    assert values[("E06000047", "2025", "uasc_per_10k")] == (3.5, first.id)
    assert values[("E09000007", "2025", "spend_per_child")] == (1251.0, first.id)
    assert len(values) == 2 * len(CONTEXT_VARIABLES) + 2
    [_, event] = events(session, actions.LOADED)
    assert event.details["replaced"] == 2
    assert actions.current_counts(session) == {first.id: 8, second.id: 4}
    assert [d.id for d in actions.datasets(session)] == [second.id, first.id]


# ------------------------------------------------------------------------------------ reading


def test_context_frame_conforms_to_the_context_frame(session: Session) -> None:
    empty = actions.context_frame(session)
    assert list(empty.columns) == ["la_code", "period", "variable", "value"]
    assert empty.empty
    ContextFrame.validate(empty)
    actions.load_context(
        session, ADMIN, csv_bytes([DURHAM, {**CAMDEN, "uasc_per_10k": "c"}]), "ctx.csv"
    )
    frame = actions.context_frame(session)
    validated = ContextFrame.validate(frame)
    assert len(validated) == 10
    assert frame["value"].dtype == np.float64
    camden = frame[(frame["la_code"] == "E09000007") & (frame["variable"] == "uasc_per_10k")]
    assert camden["value"].isna().all()


def test_context_for_one_la_with_labels(session: Session) -> None:
    actions.load_context(session, ADMIN, csv_bytes([DURHAM, CAMDEN]), "ctx.csv")
    earlier = {**DURHAM, "time_period": "2024", "child_population": "103000"}
    actions.load_context(session, ADMIN, csv_bytes([earlier]), "2024.csv")
    frame = actions.context_for(session, "840")  # old code, GSS code: the same LA
    assert frame.equals(actions.context_for(session, "E06000047"))
    assert list(frame["variable"].unique()) == list(CONTEXT_VARIABLES)
    population = frame[frame["variable"] == "child_population"]
    assert population["period"].tolist() == ["2024", "2025"]
    assert population["value"].tolist() == [103000.0, 103417.0]
    assert set(population["label"]) == {"Child population"}
    assert population["filename"].tolist() == ["2024.csv", "ctx.csv"]
    assert set(frame.columns) >= {"period", "variable", "label", "unit", "value", "source"}
    assert actions.context_for(session, "E06000001").empty, "an LA with no context yet"
    with pytest.raises(UnknownCodeError):
        actions.context_for(session, "E99999999")


def test_current_la_code_follows_recoding() -> None:
    assert actions.current_la_code("E08000016") == "E08000038"  # Barnsley
    assert actions.current_la_code("370") == "E08000038"
    assert actions.current_la_code("909") == "E10000006"  # Cumbria, abolished: its last code


def test_home_la_code_for_la_users_only(session: Session) -> None:
    ensure_default_organisations(session)
    durham = session.scalars(select(Organisation).where(Organisation.code == "840")).one()
    platform = session.scalars(
        select(Organisation).where(Organisation.kind == OrganisationKind.PLATFORM)
    ).one()
    la_user = Principal("u", Role.LA_VIEWER, durham.id, OrganisationKind.LOCAL_AUTHORITY)
    admin = Principal("a", Role.ADMINISTRATOR, platform.id, OrganisationKind.PLATFORM)
    assert actions.home_la_code(session, la_user) == "E06000047"
    assert actions.home_la_code(session, admin) is None
    assert actions.home_la_code(session, None) is None


# -------------------------------------------------------------------------------------- demo


def test_demo_context_loads_once_and_gives_every_la_similar_sets(session: Session) -> None:
    loaded = actions.demo_context(session, SYSTEM, seed=7, periods=[2024, 2025])
    assert loaded == 2 * 153 * len(CONTEXT_VARIABLES)
    assert actions.demo_context(session, SYSTEM, seed=7, periods=[2024, 2025]) == 0
    assert session.scalar(select(func.count(ContextDataset.id))) == 1
    frame = actions.context_frame(session)
    live = set(load_reference().las["new_la_code"])
    assert set(frame["la_code"]) == live
    for weights in DEFAULT_SETS:
        result = similar_sets(frame, "2025", weights)
        assert set(result.groups["owner"]) == live, weights.name
        sizes = result.groups.groupby("owner").size()
        assert (sizes == 10).all(), weights.name


def test_demo_context_administrators_only(session: Session) -> None:
    with pytest.raises(PermissionError):
        actions.demo_context(session, SUBMITTER, seed=7, periods=[2025])
    assert session.scalar(select(func.count(ContextDataset.id))) == 0


# --------------------------------------------------------------------------------------- CLI


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, ["context", *args])


def test_cli_context_load_and_list(db_app: Flask, tmp_path: Path) -> None:
    empty = invoke(db_app, "list")
    assert empty.exit_code == 0
    assert "no context datasets yet" in empty.output
    path = tmp_path / "context.csv"
    path.write_bytes(csv_bytes([DURHAM, CAMDEN]))
    loaded = invoke(db_app, "load", str(path))
    assert loaded.exit_code == 0, loaded.output
    assert "2 local authority rows" in loaded.output
    assert "103417" not in loaded.output
    listing = invoke(db_app, "list")
    assert listing.exit_code == 0
    assert "context.csv" in listing.output
    assert "10 current" in listing.output
    assert "system:cli" in listing.output
    with db_app.app_context():
        [event] = events(db.session, actions.LOADED)
        assert event.actor_label == "system:cli"


def test_cli_context_load_bad_file_prints_each_problem(db_app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        csv_bytes([{**DURHAM, "old_la_code": "999"}, {**CAMDEN, "uasc_per_10k": "-2"}])
    )
    result = invoke(db_app, "load", str(path))
    assert result.exit_code == 1
    assert "bad.csv, row 2, column old_la_code ('999')" in result.output
    assert "[la_code_unknown]" in result.output
    assert "bad.csv, row 3, column uasc_per_10k ('-2')" in result.output
    assert "nothing was loaded" in result.output
    with db_app.app_context():
        assert db.session.scalar(select(func.count(ContextValue.id))) == 0


def test_cli_context_template(db_app: Flask, tmp_path: Path) -> None:
    printed = invoke(db_app, "template")
    assert printed.exit_code == 0
    assert printed.output.splitlines()[0].split(",") == HEADER
    out = tmp_path / "template.csv"
    written = invoke(db_app, "template", "--out", str(out))
    assert written.exit_code == 0
    assert out.read_text(encoding="utf-8") == printed.output
    frame = pd.read_csv(out, dtype=str)
    assert len(frame) == 1
