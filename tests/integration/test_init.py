"""``exchange init`` on a fresh database (PostgreSQL in CI): migrates, loads the reference data,
creates every default organisation, and changes nothing but the audit log when run again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from exchange import audit, migrate
from exchange.app import create_app
from exchange.cli import main
from exchange.config import load_config
from exchange.extensions import db
from exchange.models import (
    AllianceMembership,
    AuditEvent,
    ChildPopulation,
    Organisation,
    OrganisationKind,
    ReferenceLocalAuthority,
    ReferenceRegion,
    StatisticalNeighbour,
)
from schemas.reference import load_reference

pytestmark = pytest.mark.integration

FRAMES = load_reference().to_frames()
HISTORY = FRAMES["la_history"]
LIVE = HISTORY[HISTORY["date_of_termination"].isna()]
ENGLISH_REGIONS = FRAMES["regions"][FRAMES["regions"]["region_code"].str.startswith("E12")]


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    env = {
        "EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "EXCHANGE_DATABASE_URL": database_url,
    }
    app = create_app(load_config(env=env, testing=True))
    yield app
    with app.app_context():
        db.engine.dispose()


def _init(app: Flask) -> str:
    result = app.test_cli_runner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _snapshot(app: Flask) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the organisation and reference tables, in a stable order."""
    with app.app_context():
        session = db.session
        tables = {
            "organisation": select(
                Organisation.id,
                Organisation.kind,
                Organisation.code,
                Organisation.name,
                Organisation.new_la_code,
                Organisation.region_code,
                Organisation.is_regional,
                Organisation.is_active,
                Organisation.created_at,
            ).order_by(Organisation.id),
            "membership": select(
                AllianceMembership.id, AllianceMembership.alliance_id, AllianceMembership.la_id
            ).order_by(AllianceMembership.id),
            "region": select(ReferenceRegion.__table__).order_by(ReferenceRegion.region_code),
            "la": select(ReferenceLocalAuthority.__table__).order_by(
                ReferenceLocalAuthority.new_la_code
            ),
            "neighbour": select(StatisticalNeighbour.__table__).order_by(
                StatisticalNeighbour.edition,
                StatisticalNeighbour.la_code,
                StatisticalNeighbour.rank,
            ),
            "population": select(ChildPopulation.__table__).order_by(
                ChildPopulation.year, ChildPopulation.area_code
            ),
        }
        return {name: [tuple(row) for row in session.execute(q)] for name, q in tables.items()}


def test_init_sets_up_a_fresh_database(app: Flask) -> None:
    output = _init(app)
    assert output.splitlines() == [
        f"database at revision {migrate.head()}",
        "reference data: 11 regions, 172 local_authorities, 3050 statistical_neighbours, "
        "2132 child_population",
        "organisations: 160 local authorities (153 active), 9 regional alliances, "
        "national analysts, platform",
        "changes: 171 organisations created, 0 updated, 153 regional memberships added, 0 removed",
    ]
    migrate.check(app)
    with app.app_context():
        session = db.session
        orgs = session.scalars(select(Organisation)).all()
        by_code = {org.code: org for org in orgs}

        # One LA organisation per old code in the boundary history, live or not.
        las = {org.code: org for org in orgs if org.kind is OrganisationKind.LOCAL_AUTHORITY}
        assert set(las) == set(HISTORY["old_la_code"].dropna())
        assert len(las) == 160
        assert {code for code, org in las.items() if org.is_active} == set(LIVE["old_la_code"])
        assert (las["370"].new_la_code, las["370"].is_active) == ("E08000038", True)
        assert (las["909"].name, las["909"].is_active) == ("Cumbria", False)
        assert (las["928"].name, las["928"].is_active) == ("Northamptonshire", False)

        # The nine regional alliances, each of the live LAs of its region.
        regional = [org for org in orgs if org.is_regional]
        assert len(regional) == 9
        assert {org.region_code for org in regional} == set(ENGLISH_REGIONS["region_code"])
        for alliance in regional:
            assert alliance.kind is OrganisationKind.ALLIANCE
            members = {m.la.code for m in alliance.memberships}
            expected = LIVE[LIVE["region_code"] == alliance.region_code]["old_la_code"]
            assert members == set(expected)
        north_east = by_code["alliance-north-east"]
        assert north_east.region_code == "E12000001"
        assert len(north_east.memberships) == 12
        assert {m.la.name for m in north_east.memberships} >= {"Gateshead", "Northumberland"}
        assert len(by_code["alliance-london"].memberships) == 33

        assert by_code["national"].kind is OrganisationKind.NATIONAL
        assert by_code["platform"].kind is OrganisationKind.PLATFORM
        assert len(orgs) == 160 + 9 + 2

        counts = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (
                ReferenceRegion,
                ReferenceLocalAuthority,
                StatisticalNeighbour,
                ChildPopulation,
            )
        }
        assert counts == {
            "ref_region": 11,
            "ref_local_authority": 172,
            "ref_statistical_neighbour": 3050,
            "ref_child_population": 2132,
        }
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert actions == ["reference_data_loaded", "default_organisations_ensured"]


def test_init_twice_changes_nothing_but_the_audit_log(app: Flask) -> None:
    _init(app)
    before = _snapshot(app)
    output = _init(app)
    assert output.splitlines()[-1] == (
        "changes: 0 organisations created, 0 updated, 0 regional memberships added, 0 removed"
    )
    assert _snapshot(app) == before
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert actions == ["reference_data_loaded", "default_organisations_ensured"] * 2
        assert audit.verify(db.session) == (4, None)
