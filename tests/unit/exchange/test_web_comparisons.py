"""The comparisons pages: an LA's own comparisons, the releases they rest on, one indicator's
trajectory, breakdowns and group statistics; nobody else's raw values, and nothing for anyone
without an LA.

Real data, built as tests/integration/test_comparison_sets.py does: demo returns for five North
East LAs and two periods, a DP release per period, then ``exchange comparisons recompute``.
Users sign in through the portal (password, then MFA set-up).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from html import unescape

import pandas as pd
import pytest
from auth_support import make_user
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from exchange.actions.comparisons import ComparisonView, comparisons_for
from exchange.cli import main
from exchange.extensions import db
from exchange.models import Organisation, OrganisationKind, Release, Role
from exchange.security.policy import Principal
from exchange.web.comparisons import value_text
from schemas.catalogue import load_catalogue

LAS = "840,841,806,805,807"
PERIODS = ("2024", "2025")
DURHAM = "840"
DARLINGTON = "841"
ROW = re.compile(r'<tr class="govuk-table__row" id="indicator-([a-z0-9_]+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def invoke(app: Flask, *args: str) -> None:
    result = app.test_cli_runner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


def build_comparisons(app: Flask, las: str = LAS, periods: tuple[str, ...] = PERIODS) -> Flask:
    """Demo returns of ``las`` for ``periods``, a DP national release per period, then a
    recompute of every LA's comparisons (shared with the progress pages' tests)."""
    invoke(app, "demo", "--periods", ",".join(periods), "--las", las)
    app.config["EXCHANGE"] = dataclasses.replace(app.config["EXCHANGE"], release_workers=1)
    for period in periods:
        invoke(app, "release", "build", "--period", period, "--policy", "dp")
    invoke(app, "comparisons", "recompute")
    return app


@pytest.fixture
def compared(db_app: Flask) -> Flask:
    return build_comparisons(db_app)


def view_of(app: Flask, code: str) -> ComparisonView:
    """What the LA's own staff are shown (through the action, as the page gets it)."""
    with app.app_context():
        org = db.session.scalars(select(Organisation).where(Organisation.code == code)).one()
        staff = Principal(
            label=f"test:{code}",
            role=Role.LA_VIEWER,
            organisation_id=org.id,
            organisation_kind=OrganisationKind.LOCAL_AUTHORITY,
        )
        view = comparisons_for(db.session, staff, org.id)
        assert view is not None
        return view


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def decimals_in(html: str) -> set[str]:
    """The numbers with decimal places a page's main content shows (thousands separators
    kept; the page's SVG logos, outside it, are full of decimals)."""
    main = html[html.index('<main class="govuk-main-wrapper"') : html.index("</main>")]
    return set(re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})*\.\d+(?!\d)", main))


def totals(view: ComparisonView, period: str) -> pd.DataFrame:
    per_la = view.per_la
    return per_la.loc[(per_la["period"] == period) & (per_la["breakdown_topic"] == "Total")]


# -- the LA's own comparisons ---------------------------------------------------------------------


def test_comparisons_page_shows_own_rows_values_and_release_banner(
    compared: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    view = view_of(compared, DURHAM)
    catalogue = load_catalogue()
    response = client.get("/comparisons/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert "County Durham" in text
    assert 'href="/comparisons/" aria-current="page"' in html  # the navigation's item
    # The banner: the set, each period's release (by its number, not its database id), when
    # it was computed.
    releases = view.comparison_set.releases
    assert f"Comparison set {view.comparison_set.id}, computed" in text
    with compared.app_context():
        for period in PERIODS:
            release = db.session.get(Release, releases[period])
            assert release is not None
            assert release.time_period == period
            assert f"Reporting year {period}: national release {release.number}" in text
    # The LA's latest context figures beside its comparisons, linking to its context page and
    # to its similar-challenges sets.
    assert "Your context" in text
    assert re.search(r'<dl class="govuk-summary-list[^"]*" id="context-figures">', html)
    assert 'href="/context/E06000047"' in html
    assert 'href="/comparisons/similar"' in html
    # The latest period by default; exactly the LA's own Total rows, each with its own value.
    assert "for reporting year 2025" in text
    own = totals(view, "2025").set_index("indicator_id")
    shown = dict(ROW.findall(html))
    assert set(shown) == set(own.index)
    for indicator_id, row_html in shown.items():
        indicator = catalogue.indicators[indicator_id]
        value = CELL.findall(row_html)[0]
        assert value == value_text(indicator, float(own.loc[indicator_id, "value"]))
        assert indicator.text in text_of(row_html)
    # A percentage is written with its catalogue decimals (checked independently).
    percent = next(i for i in own.index if catalogue.indicators[i].unit == "%")
    decimals = catalogue.indicators[percent].decimals
    assert CELL.findall(shown[percent])[0] == f"{own.loc[percent, 'value']:.{decimals}f}%"
    # Judgements as tags, missing figures as a dash with a reason for screen readers.
    assert 'class="govuk-tag govuk-tag--' in html
    assert '<span aria-hidden="true">–</span><span class="govuk-visually-hidden">' in html
    # Triangulation: the outcomes of the period with their names and readings.
    outcomes = view.outcomes.loc[view.outcomes["period"] == "2025"]
    assert "Outcomes: indicators read together" in text
    first = outcomes.iloc[0]
    name = catalogue.outcome(first["domain"], int(first["outcome"])).name
    assert f"Outcome {int(first['outcome'])}: {name}" in text
    assert str(first["reading"]).capitalize() in text
    # Another period, one domain, and what does not exist.
    html = client.get("/comparisons/?period=2024").get_data(as_text=True)
    assert set(dict(ROW.findall(html))) == set(totals(view, "2024")["indicator_id"])
    assert "for reporting year 2024" in text_of(html)
    html = client.get("/comparisons/?period=2025&domain=child_outcomes").get_data(as_text=True)
    in_domain = set(dict(ROW.findall(html)))
    assert in_domain
    assert {catalogue.indicators[i].domain for i in in_domain} == {"child_outcomes"}
    assert 'id="domain-conditions_culture"' not in html
    assert client.get("/comparisons/?period=1999").status_code == 404
    assert client.get("/comparisons/?domain=no_such_domain").status_code == 404


def test_comparisons_pages_never_show_another_las_raw_values(
    compared: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    """Durham's pages show Durham's own values in every "your value" cell, and none of
    Darlington's raw values that no figure of Durham's could be written as."""
    catalogue = load_catalogue()
    durham, darlington = view_of(compared, DURHAM), view_of(compared, DARLINGTON)

    def written(rows: pd.DataFrame, columns: list[str]) -> set[str]:
        found = set()
        for record in rows.to_dict("records"):
            indicator = catalogue.indicators[record["indicator_id"]]
            if indicator.decimals == 0:
                continue  # yes/no and whole numbers: too common to be distinctive
            for column in columns:
                if pd.notna(record[column]):
                    found.add(f"{abs(float(record[column])):,.{indicator.decimals}f}")
        return found

    # Everything Durham's pages may write (its values, changes and group statistics); with one
    # decimal place that is nearly every percentage, so the distinctive ones have two.
    shown = ["value", "change", "neighbours_mean", "neighbours_median", "england"]
    own = written(durham.per_la, shown) | written(
        durham.per_group, ["mean", "median", "min", "max"]
    )
    tokens = written(darlington.per_la, ["value"]) - own
    assert len(tokens) >= 20, "Darlington has raw values Durham's pages cannot show"
    ids = sorted(set(darlington.per_la["indicator_id"]) & set(durham.per_la["indicator_id"]))
    precise = [i for i in ids if catalogue.indicators[i].decimals >= 2]
    assert precise
    pages = [f"/comparisons/{i}?period={p}" for i in [*precise, *ids[::20]] for p in PERIODS]
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    for period in PERIODS:
        html = client.get(f"/comparisons/?period={period}").get_data(as_text=True)
        assert not decimals_in(html) & tokens, period
        own_totals = totals(durham, period).set_index("indicator_id")["value"]
        for indicator_id, row_html in ROW.findall(html):
            value = CELL.findall(row_html)[0]
            if pd.isna(own_totals[indicator_id]):
                assert "no value in your return" in value, (period, indicator_id)
            else:
                expected = value_text(catalogue.indicators[indicator_id], own_totals[indicator_id])
                assert value == expected, (period, indicator_id)
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert not decimals_in(response.get_data(as_text=True)) & tokens, page
    # Darlington's own staff see Darlington's comparisons, which hold those values (so the
    # check above would have found them), not Durham's.
    other = sign_in("viewer@darlington.example", "la_viewer", DARLINGTON)
    found = set().union(*(decimals_in(other.get(p).get_data(as_text=True)) for p in pages))
    assert found & tokens
    html = other.get("/comparisons/").get_data(as_text=True)
    assert "Darlington" in text_of(html)
    assert set(dict(ROW.findall(html))) == set(totals(darlington, "2025")["indicator_id"])


def test_indicator_page_trajectory_breakdowns_and_group_statistics(
    compared: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    view = view_of(compared, DURHAM)
    groups = view.per_group
    total = groups.loc[(groups["period"] == "2025") & (groups["breakdown_topic"] == "Total")]
    # An indicator with England's statistics shown and some group's withheld, and breakdowns
    # in the LA's return.
    england_shown = set(
        total.loc[(total["group_type"] == "england") & total["allowed"], "indicator_id"]
    )
    some_withheld = set(total.loc[~total["allowed"], "indicator_id"])
    with_breakdowns = set(
        view.per_la.loc[view.per_la["breakdown_topic"] != "Total", "indicator_id"]
    )
    indicator_id = min(england_shown & some_withheld & with_breakdowns)
    indicator = load_catalogue().indicators[indicator_id]
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    response = client.get(f"/comparisons/{indicator_id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert indicator.text in text
    # The trajectory: one row per period, with the LA's own value.
    for period in PERIODS:
        own = totals(view, period).set_index("indicator_id").loc[indicator_id, "value"]
        assert pd.notna(own)
        assert re.search(
            rf'<th scope="row" class="govuk-table__header">{period}</th>\s*'
            rf'<td class="govuk-table__cell govuk-table__cell--numeric">'
            rf"{re.escape(value_text(indicator, float(own)))}</td>",
            html,
        ), period
    # Group statistics of the latest period: shown where allowed, withheld (and said) where not.
    rows = total.loc[total["indicator_id"] == indicator_id]
    england = rows.loc[rows["group_type"] == "england"].iloc[0]
    assert bool(england["allowed"])
    mean = value_text(indicator, float(england["mean"]), statistic=True)
    assert re.search(
        r'<th scope="row" class="govuk-table__header">England</th>\s*'
        rf'<td class="govuk-table__cell govuk-table__cell--numeric">{int(england["n"])}</td>\s*'
        rf'<td class="govuk-table__cell govuk-table__cell--numeric">{re.escape(mean)}</td>',
        html,
    )
    withheld = rows.loc[~rows["allowed"]]
    assert len(withheld) > 0
    assert text.count("Not shown: fewer than 3 other local authorities have a published value") >= (
        len(withheld)
    )
    assert "Statistical neighbours (2025 list)" in text
    # Breakdowns of the latest period (seed 4.5.5), by topic.
    breakdowns = view.per_la.loc[
        (view.per_la["indicator_id"] == indicator_id)
        & (view.per_la["period"] == "2025")
        & (view.per_la["breakdown_topic"] != "Total")
    ]
    assert "By breakdown, 2025" in text
    for category in breakdowns["breakdown"].head(3):
        assert f'<th scope="row" class="govuk-table__header">{category}</th>' in html
    # An earlier period, and what does not exist.
    assert "Comparison groups, 2024" in text_of(
        client.get(f"/comparisons/{indicator_id}?period=2024").get_data(as_text=True)
    )
    assert client.get(f"/comparisons/{indicator_id}?period=1999").status_code == 404
    assert client.get("/comparisons/no_such_indicator").status_code == 404


# -- before any comparisons, and for people without an LA ----------------------------------------


def test_comparisons_not_computed_yet_says_so(
    db_app: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    response = client.get("/comparisons/")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "Your comparisons are not ready yet" in text
    assert "Comparison set" not in text
    assert "No context figures" in text  # none loaded: said so, beside the comparisons
    indicator_id = next(iter(load_catalogue().indicators))
    response = client.get(f"/comparisons/{indicator_id}")
    assert response.status_code == 200
    assert "Your comparisons are not ready yet" in text_of(response.get_data(as_text=True))
    assert client.get("/comparisons/no_such_indicator").status_code == 404


@pytest.mark.parametrize(
    ("role", "org"),
    [("administrator", "platform"), ("analyst", "national"), ("alliance_viewer", None)],
)
def test_comparisons_refused_to_users_without_an_la(
    db_app: Flask,
    sign_in: Callable[[str, str, str], FlaskClient],
    role: str,
    org: str | None,
) -> None:
    if org is None:  # an alliance: the North East's regional one
        make_user(db_app, "seed@platform.example", role="administrator", org="platform")
        with db_app.app_context():
            org = db.session.scalars(
                select(Organisation.code).where(
                    Organisation.kind == OrganisationKind.ALLIANCE, Organisation.is_regional
                )
            ).first()
        assert org is not None
    client = sign_in(f"{role}@example.org", role, org)
    indicator_id = next(iter(load_catalogue().indicators))
    for page in ("/comparisons/", f"/comparisons/{indicator_id}"):
        response = client.get(page)
        assert response.status_code == 403, page
    assert 'href="/comparisons/"' not in client.get("/catalogue").get_data(as_text=True)


def test_comparisons_anonymous_user_is_sent_to_sign_in(db_app: Flask) -> None:
    response = db_app.test_client().get("/comparisons/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
