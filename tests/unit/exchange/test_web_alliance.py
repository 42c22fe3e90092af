"""The alliance view (``/alliance/``): an alliance's viewers see its member LAs' published
(protected) figures with their comparisons, never a member's raw return; another alliance's
viewers see only their own members; LA staff and everyone else get no alliance view.

Real data, built as test_web_comparisons.py builds it (its ``build_comparisons``): demo returns
of five North East LAs for two periods, a DP release per period (its values differ from the
raw returns), then a recompute. Before that, a custom "Tees Valley test" alliance of three of
them is created, and County Durham records an improvement journey, so its stage shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from test_web_comparisons import DURHAM, build_comparisons, text_of, view_of
from test_web_progress import check_page

from exchange.actions.comparisons import current_set
from exchange.actions.journeys import record_journey
from exchange.actions.organisations import create_alliance, ensure_default_organisations
from exchange.actions.releases import release_frame
from exchange.extensions import db
from exchange.models import Organisation, Release
from exchange.security.principals import system_principal
from exchange.web.comparisons import value_text
from schemas.catalogue import load_catalogue

NORTH_EAST = "alliance-north-east"
TEES = "alliance-tees-valley-test"
TEES_LAS = ("806", "805", "807")  # Middlesbrough, Hartlepool, Redcar and Cleveland
LAS = ("840", "841", *TEES_LAS)
MEMBER_ROW = re.compile(r'<tr class="govuk-table__row" id="member-([A-Z0-9]+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
VALUES = ["percent", "rate_per_10000", "mean", "yes_no"]


@pytest.fixture
def allied(db_app: Flask) -> Flask:
    actor = system_principal("system:test")
    with db_app.app_context():
        ensure_default_organisations(db.session)
        create_alliance(db.session, actor, "Tees Valley test", TEES_LAS)
        durham = db.session.scalars(select(Organisation.id).where(Organisation.code == DURHAM))
        record_journey(
            db.session,
            actor,
            durham.one(),
            start_date=date(2022, 10, 1),
            trigger="Ofsted inadequate (test journey)",
            focus_areas="Practice model",
        )
    return build_comparisons(db_app, ",".join(LAS))


def gss(app: Flask, codes: tuple[str, ...]) -> dict[str, str]:
    """{new GSS code: old code} of ``codes``."""
    with app.app_context():
        rows = db.session.execute(
            select(Organisation.new_la_code, Organisation.code).where(Organisation.code.in_(codes))
        ).all()
    return {new: old for new, old in rows}


def published(app: Flask, period: str) -> pd.Series:
    """The LA values of the current national release of ``period``, read from its EES table
    (the value sits in the column of its kind), by (GSS code, indicator), Total rows."""
    with app.app_context():
        chosen = current_set(db.session)
        assert chosen is not None
        release = db.session.get(Release, chosen.releases[period])
        assert release is not None
        table = release_frame(db.session, release)
    table = table.loc[
        (table["geographic_level"] == "Local authority")
        & (table["breakdown_topic"] == "Total")
        & (table["breakdown"] == "Total")
    ]
    values = table[VALUES].apply(pd.to_numeric, errors="coerce").max(axis=1)
    index = pd.MultiIndex.from_frame(table[["new_la_code", "indicator"]])
    return pd.Series(values.to_numpy(), index=index).dropna()


def member_rows(html: str) -> dict[str, str]:
    return dict(MEMBER_ROW.findall(html))


def test_alliance_page_shows_members_published_values_not_their_raw_values(
    allied: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    catalogue = load_catalogue()
    members = gss(allied, LAS)
    release = published(allied, "2025")
    # An indicator whose published value of some member is written differently from its raw
    # value (the DP release moves values), so the page cannot show both.
    raw = {
        code: view_of(allied, old).per_la.set_index(["period", "breakdown_topic", "indicator_id"])
        for code, old in members.items()
    }
    differs = [
        (indicator_id, code)
        for (code, indicator_id), value in release.items()
        if code in members
        and indicator_id in catalogue.indicators
        and catalogue.indicators[indicator_id].decimals >= 1
        and (key := ("2025", "Total", indicator_id)) in raw[code].index
        and pd.notna(raw_value := raw[code].loc[key, "value"])
        and value_text(catalogue.indicators[indicator_id], float(raw_value))
        != value_text(catalogue.indicators[indicator_id], float(value))
    ]
    assert differs, "the DP release moves some member's value"
    indicator_id, moved = differs[0]
    indicator = catalogue.indicators[indicator_id]

    client = sign_in("viewer@north-east.example", "alliance_viewer", NORTH_EAST)
    response = client.get(f"/alliance/?indicator={indicator_id}&period=2025")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    check_page(html)  # balanced tags, unique ids, captioned tables, scoped headers
    text = text_of(html)
    assert 'href="/alliance/" aria-current="page"' in html  # the navigation's item
    assert "North East regional alliance" in text
    assert "Figures shared only with the alliance need an alliance release: not yet available" in (
        text
    )
    with allied.app_context():
        chosen = current_set(db.session)
        assert chosen is not None
        assert f"Comparison set {chosen.id}, computed" in text
    assert "Reporting year 2025: national release" in text
    rows = member_rows(html)
    # Every member of the regional alliance has a row; those in the exchange show the
    # release's published value, which for ``moved`` is not its raw value.
    assert set(members) <= set(rows)
    assert len(rows) == 12
    for code in members:
        value = CELL.findall(rows[code])[0]
        if (code, indicator_id) in release.index:
            assert value == value_text(indicator, float(release[(code, indicator_id)])), code
        else:
            assert "no published value" in value, code
    raw_text = value_text(
        indicator, float(raw[moved].loc[("2025", "Total", indicator_id), "value"])
    )
    shown = CELL.findall(rows[moved])[0]
    assert raw_text != shown == value_text(indicator, float(release[(moved, indicator_id)]))
    # The other comparison columns are filled from the alliance's file: rank, band,
    # neighbours, region, England, change, judgements.
    cells = CELL.findall(rows[moved])
    assert len(cells) == 9
    assert re.search(r"\d+ of \d+", cells[1])
    # Outcome readings per member, and Durham's improvement stage from the shared journeys.
    assert 'id="outcomes-' in html
    assert text_of(html[html.index('id="outcomes-') :]).count("Outcome 1") >= 1
    durham = next(code for code, old in members.items() if old == DURHAM)
    assert f'id="stage-{durham}"' in html
    assert f'id="trajectory-{durham}"' in html


def test_alliance_page_defaults_and_refuses_unknown_choices(
    allied: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    client = sign_in("viewer@north-east.example", "alliance_viewer", NORTH_EAST)
    html = client.get("/alliance/").get_data(as_text=True)
    # The latest period, and the first indicator of the catalogue with figures.
    assert re.search(r'<option value="2025" selected>', html)
    catalogue = load_catalogue()
    select_html = html[html.index('id="indicator"') :]
    select_html = select_html[: select_html.index("</select>")]
    first = re.search(r'<option value="([a-z0-9_]+)" selected>', select_html)
    assert first is not None
    options = re.findall(r'<option value="([a-z0-9_]+)"', select_html)
    assert first.group(1) == options[0]
    members = gss(allied, LAS)
    released = {i for code, i in published(allied, "2025").index if code in members}
    in_order = [
        i.id
        for d in sorted(catalogue.domains.values(), key=lambda d: d.table)
        for i in catalogue.by_domain(d.id)
    ]
    assert options[0] == next(i for i in in_order if i in released)
    # The demo's LAs share conditions and culture with their alliances only: not in the
    # national release, so not offered (an alliance release would be needed).
    assert not any(catalogue.indicators[i].domain == "conditions_culture" for i in options)
    assert client.get("/alliance/?indicator=no_such_indicator").status_code == 404
    assert client.get("/alliance/?period=1999").status_code == 404


def test_alliance_page_another_alliance_sees_only_its_own_members(
    allied: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    client = sign_in("viewer@tees.example", "alliance_viewer", TEES)
    html = client.get("/alliance/").get_data(as_text=True)
    assert "Tees Valley test" in text_of(html)
    assert set(member_rows(html)) == set(gss(allied, TEES_LAS))
    assert set(re.findall(r'id="outcomes-([A-Z0-9]+)"', html)) == set(gss(allied, TEES_LAS))
    assert "County Durham" not in text_of(html)
    assert "Darlington" not in text_of(html)


@pytest.mark.parametrize("role", ["la_viewer", "la_submitter"])
def test_alliance_page_la_staff_get_no_alliance_view(
    allied: Flask, sign_in: Callable[[str, str, str], FlaskClient], role: str
) -> None:
    client = sign_in(f"{role}@durham.example", role, DURHAM)
    html = client.get("/comparisons/").get_data(as_text=True)
    assert 'href="/alliance/"' not in html  # no navigation item
    response = client.get("/alliance/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="member-table"' not in html
    assert "This page is for the viewers of a regional improvement alliance" in text_of(html)
    assert 'href="/comparisons/"' in html


@pytest.mark.parametrize(("role", "org"), [("administrator", "platform"), ("analyst", "national")])
def test_alliance_page_refused_without_alliance_view(
    db_app: Flask, sign_in: Callable[[str, str, str], FlaskClient], role: str, org: str
) -> None:
    client = sign_in(f"{role}@example.org", role, org)
    assert client.get("/alliance/").status_code == 403
    assert 'href="/alliance/"' not in client.get("/catalogue").get_data(as_text=True)


def test_alliance_page_not_computed_yet_says_so(
    db_app: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    client = sign_in("viewer@north-east.example", "alliance_viewer", NORTH_EAST)
    response = client.get("/alliance/")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "The alliance's comparisons are not ready yet" in text
    assert "Comparison set" not in text


def test_alliance_page_anonymous_user_is_sent_to_sign_in(db_app: Flask) -> None:
    response = db_app.test_client().get("/alliance/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
