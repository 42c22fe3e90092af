"""The improvement progress pages (``/progress/``, ``/progress/<indicator_id>``) and the
similar-challenges page (``/comparisons/similar``): an LA's own stage, evidence and trends, LAs
at a similar stage and what to expect next; nobody else's, and nothing for anyone without an LA.

Real data, built as test_web_comparisons.py builds it (its ``build_comparisons``): demo returns
of six LAs for three reporting years, a DP release per year, a recompute. County Durham records
an improvement journey that started on 1 October 2022 (``record_journey``), so its stage is read
at the end of 2025, 29 months in. The demo's synthetic journeys include four of the other LAs:
Reading and Cornwall (started October 2020) and Cheshire East and Bath and North East Somerset
(October 2021), so "what to expect next" after 29 months has a year (36 to 47 months) with four
LAs further ahead, whose medians are shown, and one (48 to 59) with two, whose are withheld.
The demo also loads the synthetic context, from which the similar-challenges sets are built;
Kirklees is near County Durham on its context (a member of its sets) and is the "other LA".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from html.parser import HTMLParser

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from test_web_comparisons import build_comparisons, invoke, text_of, view_of

from exchange.actions.comparisons import ComparisonView, SharedProgressView, shared_progress_for
from exchange.actions.journeys import record_journey
from exchange.extensions import db
from exchange.models import ContextDataset, ContextValue, Organisation, OrganisationKind, Role
from exchange.security.policy import Principal
from exchange.security.principals import system_principal
from exchange.web.comparisons import value_text
from exchange.web.progress import slope_text, trend_row
from schemas.catalogue import Polarity, load_catalogue
from schemas.context import CONTEXT_VARIABLES
from schemas.reference import load_reference
from workers.analytics.similar import DEFAULT_SETS
from workers.analytics.trajectories import peers_at_stage, what_next

LAS = "840,382,870,908,895,800"
PERIODS = ("2023", "2024", "2025")
DURHAM, KIRKLEES = "840", "382"
DURHAM_GSS = "E06000047"
START = date(2022, 10, 1)
TRIGGER = "Ofsted inadequate (test journey)"
FOCUS = "Practice model and the voice of the child"
TREND_ROW = re.compile(r'<tr class="govuk-table__row" id="trend-([a-z0-9_]+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


@pytest.fixture
def journeyed(db_app: Flask) -> Flask:
    build_comparisons(db_app, LAS, PERIODS)
    with db_app.app_context():
        durham = db.session.scalars(select(Organisation.id).where(Organisation.code == DURHAM))
        record_journey(
            db.session,
            system_principal("system:test"),
            durham.one(),
            start_date=START,
            trigger=TRIGGER,
            focus_areas=FOCUS,
        )
    invoke(db_app, "comparisons", "recompute")  # the journey changes the basis: all recomputed
    return db_app


def shared_of(app: Flask, code: str) -> SharedProgressView:
    with app.app_context():
        org = db.session.scalars(select(Organisation).where(Organisation.code == code)).one()
        staff = Principal(
            label=f"test:{code}",
            role=Role.LA_VIEWER,
            organisation_id=org.id,
            organisation_kind=OrganisationKind.LOCAL_AUTHORITY,
        )
        shared = shared_progress_for(db.session, staff)
        assert shared is not None
        return shared


def main_of(html: str) -> str:
    return html[html.index('<main class="govuk-main-wrapper"') : html.index("</main>")]


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    return html[start : html.index("</section>", start)]


def rows_of(html: str) -> dict[str, str]:
    return dict(TREND_ROW.findall(html))


class _PageChecker(HTMLParser):
    """What the portal's pages promise: balanced tags, unique ids, no inline style or script,
    every table captioned, column headers with scope="col" and row headers with scope="row"."""

    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.problems: list[str] = []
        self.tables = 0
        self.captions = 0
        self.part = ""  # thead / tbody

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "style" in found or any(name.startswith("on") for name in found):
            self.problems.append(f"inline style or script on <{tag}>")
        if (ident := found.get("id")) is not None:
            if ident in self.ids:
                self.problems.append(f"duplicate id {ident}")
            self.ids.add(ident)
        if tag == "table":
            self.tables += 1
        elif tag == "caption":
            if not self.stack or self.stack[-1] != "table":
                self.problems.append("a caption that is not a table's first child")
            self.captions += 1
        elif tag in ("thead", "tbody"):
            self.part = tag
        elif tag == "th":
            wanted = "col" if self.part == "thead" else "row"
            if found.get("scope") != wanted:
                self.problems.append(f"<th> in {self.part} without scope={wanted}")
        elif tag == "script" and "src" not in found:
            self.problems.append("inline script")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID and tag not in ("path", "rect", "circle", "use"):
            self.problems.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
            return
        self.stack.pop()


def check_page(html: str) -> None:
    checker = _PageChecker()
    checker.feed(html)
    checker.close()
    assert checker.problems == []
    assert checker.stack == []
    assert checker.tables == checker.captions


# -- the LA's own progress ------------------------------------------------------------------------


def test_progress_page_shows_stage_domains_evidence_and_peers(
    journeyed: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    catalogue = load_catalogue()
    view = view_of(journeyed, DURHAM)
    stage = view.table("stage")
    assert len(stage) == 1
    mine = stage.iloc[0]
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    response = client.get("/progress/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    check_page(html)
    text = text_of(main_of(html))
    assert 'href="/progress/" aria-current="page"' in html  # the navigation's item
    # What the page rests on: the set and each year's release by its number.
    assert f"Comparison set {view.comparison_set.id}, computed" in text
    for period in PERIODS:
        assert f"Reporting year {period}: national release 1" in text
    # The stage and the journey behind it.
    months = int(mine["months_since_start"])
    assert months == 29  # 1 October 2022 to 31 March 2025
    journey = text_of(section(html, "journey"))
    assert f"Stage {mine['stage_label']}" in journey
    assert f"{months} months (at the end of reporting year 2025" in journey
    assert "Started 1 October 2022" in journey
    assert f"Trigger {TRIGGER}" in journey
    assert f"Focus areas {FOCUS}" in journey
    assert "Latest Ofsted judgement None recorded" in journey
    order = "Yes: every earlier step" if bool(mine["in_expected_order"]) else "No: a later step"
    assert order in journey
    assert 'href="/journey"' in section(html, "journey")
    # A reading per domain, Table 2 to Table 5, with the LA's own counts.
    domains = view.table("domains").sort_values("table")
    assert list(domains["table"]) == [2, 3, 4, 5]
    readings = section(html, "domains")
    positions = []
    for record in domains.to_dict("records"):
        row = re.search(rf'id="domain-{record["domain"]}">(.*?)</tr>', readings, re.S)
        assert row, record["domain"]
        positions.append(row.start())
        cells = [text_of(c).strip() for c in CELL.findall(row.group(1))]
        assert cells[0] == str(record["n_indicators"])
        assert cells[1] == str(record["n_with_data"])
        assert cells[2].startswith(str(record["n_improving"]))
        assert cells[3] == str(record["n_declining"])
        assert cells[4] == ("Yes" if record["improved"] else "No")
    assert positions == sorted(positions)
    # The evidence: each indicator's trend since the start, linked to its own page.
    evidence = view.table("evidence").set_index("indicator_id")
    shown = rows_of(section(html, "evidence"))
    assert set(shown) == {i for i in evidence.index if i in catalogue.indicators}
    for indicator_id, row_html in shown.items():
        assert f'href="/progress/{indicator_id}"' in row_html
    # A slope as the catalogue writes its unit, checked independently for a percentage.
    percent = next(
        i for i in shown if catalogue.indicators[i].unit == "%" and evidence.loc[i, "n_points"] > 2
    )
    slope = f"{float(evidence.loc[percent, 'ts_slope']):+.2f}".replace("-", "\u2212")
    assert CELL.findall(shown[percent])[1].startswith(f"{slope} percentage points a year")
    assert "95% interval" in CELL.findall(shown[percent])[1]
    # LAs at a similar stage: read from the shared (protected) stages, nearest first.
    shared = shared_of(journeyed, DURHAM)
    peers = peers_at_stage(shared.stages, DURHAM_GSS, window_months=12)
    assert len(peers) > 0
    names = [load_reference().la_name(str(c)) for c in peers["la_code"]]
    table = section(html, "peers")
    found = re.findall(r'<th scope="row" class="govuk-table__header">(.*?)</th>', table)
    assert [text_of(n).strip() for n in found] == names
    assert "County Durham" not in names


def test_progress_indicator_page_shows_trend_values_and_what_to_expect_next(
    journeyed: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    catalogue = load_catalogue()
    view = view_of(journeyed, DURHAM)
    shared = shared_of(journeyed, DURHAM)
    months = int(view.table("stage").iloc[0]["months_since_start"])
    # An indicator whose later years have a median shown and one withheld.
    chosen = None
    for indicator_id in sorted(view.table("evidence")["indicator_id"]):
        expected = what_next(shared.aligned, DURHAM_GSS, indicator_id, current_months=months)
        if expected["median_value"].notna().any() and expected["median_value"].isna().any():
            chosen = indicator_id
            break
    assert chosen is not None
    indicator = catalogue.indicators[chosen]
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    response = client.get(f"/progress/{chosen}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    check_page(html)
    assert 'href="/progress/" aria-current="true"' in html
    text = text_of(main_of(html))
    assert indicator.text in text
    # The trend over every year and since the start; the LA's own value in each year.
    assert 'id="trend-all"' in html
    assert 'id="trend-since-start"' in html
    own = view.per_la.loc[
        (view.per_la["indicator_id"] == chosen) & (view.per_la["breakdown_topic"] == "Total")
    ]
    for record in own.to_dict("records"):
        assert re.search(
            rf'<th scope="row" class="govuk-table__header">{record["period"]}</th>\s*'
            r'<td class="govuk-table__cell govuk-table__cell--numeric">'
            rf"{re.escape(value_text(indicator, float(record['value'])))}</td>",
            html,
        ), record["period"]
    # What to expect next: each year's number of LAs, and the median only when allowed.
    start = html.index('id="next-table"')
    body = html[html.index("<tbody", start) : html.index("</tbody>", start)]
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", body, re.S)
    assert len(rows) == len(expected)
    for record, row in zip(expected.to_dict("records"), rows, strict=True):
        first, last = record["offset_from_months"], record["offset_to_months"]
        assert f"{first} to {last}</th>" in row
        cells = CELL.findall(row)
        assert text_of(cells[0]).strip() == str(record["n_las"])
        if pd.isna(record["median_value"]):
            assert "fewer than 3 other local authorities contribute" in cells[1]
        else:
            median = value_text(indicator, float(record["median_value"]), statistic=True)
            assert cells[1] == median
    rule = text_of(html[html.index('id="disclosure-rule"') :][:400])
    assert "at least 3 other local authorities contribute" in rule
    assert client.get("/progress/no_such_indicator").status_code == 404


def test_progress_expected_for_the_stage_is_not_shown_as_decline(
    journeyed: Flask,
    sign_in: Callable[[str, str, str], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalogue = load_catalogue()
    view = view_of(journeyed, DURHAM)
    anomalies = view.table("anomalies").set_index("indicator_id")["annotation"]
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    shown = rows_of(section(client.get("/progress/").get_data(as_text=True), "evidence"))
    # As computed: every annotation as its tag.
    tags = {
        "expected for the stage": 'govuk-tag--blue">Expected for the stage',
        "read in context": 'govuk-tag--grey">Read in context',
        "decline": 'govuk-tag--red">Decline',
    }
    for indicator_id, row_html in shown.items():
        annotation = anomalies.get(indicator_id, "")
        if annotation:
            assert tags[annotation] in row_html, indicator_id
            if annotation == "expected for the stage":
                assert "Declining" not in row_html
        else:
            assert "no annotation" in row_html
    # A polarity-judged indicator moving its "expected" way: the analytics annotate it as
    # expected for the stage although its direction reads as declining. The page shows the
    # movement and the annotation, never a decline.
    evidence = view.table("evidence").copy()
    judged = next(
        i
        for i in evidence["indicator_id"]
        if catalogue.indicators[i].polarity is Polarity.LOWER_IS_BETTER
    )
    at = evidence["indicator_id"] == judged
    evidence.loc[at, ["movement", "direction"]] = ["rising", "declining"]
    changed = view.table("anomalies").copy()
    changed.loc[changed["indicator_id"] == judged, "annotation"] = "expected for the stage"
    forced = ComparisonView(
        view.comparison_set, {**view.tables, "evidence": evidence, "anomalies": changed}
    )
    monkeypatch.setattr("exchange.web.comparisons.comparisons_for", lambda *args: forced)
    row_html = rows_of(client.get("/progress/").get_data(as_text=True))[judged]
    assert 'govuk-tag--blue">Expected for the stage' in row_html
    assert 'govuk-tag--grey">Rising' in row_html
    assert "Declining" not in row_html
    assert "govuk-tag--red" not in row_html
    page = client.get(f"/progress/{judged}").get_data(as_text=True)
    since_start = page[page.index('id="trend-since-start"') :][:3000]
    assert 'govuk-tag--blue">Expected for the stage' in since_start
    assert "govuk-tag--red" not in since_start.split("</tr>")[0]


def test_trend_row_reads_an_expected_movement_as_movement() -> None:
    indicator = load_catalogue().indicators["t3_repeat_cp_plans"]
    record = {
        "direction": "declining",
        "movement": "rising",
        "ts_slope": 1.25,
        "ts_low": 0.5,
        "ts_high": 2.0,
        "ols_slope": 1.2,
        "ols_low": -0.3,
        "ols_high": 2.7,
        "n_points": 4,
        "first_period": "2022",
        "last_period": "2025",
    }
    expected = trend_row(indicator, record, "expected for the stage")
    assert expected.tag == ("Rising", "govuk-tag--grey")
    assert expected.annotation == ("Expected for the stage", "govuk-tag--blue")
    assert expected.slope.text == "+1.25 percentage points a year"
    assert expected.slope.note == "95% interval +0.50 to +2.00"
    assert expected.ols.note == "95% interval \u22120.30 to +2.70"
    assert expected.points == "4 years (2022 to 2025)"
    plain = trend_row(indicator, record)
    assert plain.tag == ("Declining", "govuk-tag--red")
    assert plain.annotation is None
    assert slope_text(indicator, -0.5) == "\u22120.50 percentage points a year"


# -- other LAs, people without an LA, and before anything is computed -----------------------------


def test_progress_other_las_staff_see_their_own_not_this_las(
    journeyed: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    catalogue = load_catalogue()
    kirklees = view_of(journeyed, KIRKLEES)
    assert kirklees.table("stage").empty
    trends = kirklees.table("trends")
    trends = trends.loc[trends["breakdown_topic"] == "Total"].set_index("indicator_id")
    client = sign_in("viewer@kirklees.example", "la_viewer", KIRKLEES)
    response = client.get("/progress/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_page(html)
    text = text_of(main_of(html))
    assert "Kirklees is not on an improvement journey" in text
    assert 'href="/journey"' in html
    # Nothing of Durham's journey or stage.
    for durham in (TRIGGER, FOCUS, "Your improvement journey", "County Durham", 'id="peers"'):
        assert durham not in html
    # Every indicator's trend by domain: exactly Kirklees's own, with its own slopes.
    shown = rows_of(section(html, "trends"))
    assert set(shown) == {i for i in trends.index if i in catalogue.indicators}
    for indicator_id, row_html in shown.items():
        slope = trends.loc[indicator_id, "ts_slope"]
        if pd.notna(slope):
            expected = slope_text(catalogue.indicators[indicator_id], float(slope))
            assert CELL.findall(row_html)[1].startswith(expected), indicator_id
    durham = view_of(journeyed, DURHAM).table("trends").set_index("indicator_id")["ts_slope"]
    differs = [i for i in shown if i in durham.index and durham[i] != trends.loc[i, "ts_slope"]]
    assert differs  # so the check above would have told Durham's slopes from Kirklees's
    indicator_id = differs[0]
    page = client.get(f"/progress/{indicator_id}").get_data(as_text=True)
    assert "Kirklees is not on an improvement journey" in text_of(page)
    assert 'id="next-table"' not in page
    ours = slope_text(
        catalogue.indicators[indicator_id], float(trends.loc[indicator_id, "ts_slope"])
    )
    assert ours in text_of(page)


def test_progress_anonymous_user_is_sent_to_sign_in(db_app: Flask) -> None:
    client = db_app.test_client()
    for page in ("/progress/", "/progress/t3_repeat_cp_plans", "/comparisons/similar"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/sign-in"), page


@pytest.mark.parametrize(("role", "org"), [("administrator", "platform"), ("analyst", "national")])
def test_progress_refused_to_users_without_an_la(
    db_app: Flask, sign_in: Callable[[str, str, str], FlaskClient], role: str, org: str
) -> None:
    client = sign_in(f"{role}@example.org", role, org)
    for page in ("/progress/", "/progress/t3_repeat_cp_plans", "/comparisons/similar"):
        assert client.get(page).status_code == 403, page
    assert 'href="/progress/"' not in client.get("/catalogue").get_data(as_text=True)


def test_progress_not_computed_yet_says_so(
    db_app: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    for page in ("/progress/", "/progress/t3_repeat_cp_plans"):
        response = client.get(page)
        assert response.status_code == 200, page
        check_page(response.get_data(as_text=True))
        assert "Your progress is not ready yet" in text_of(response.get_data(as_text=True))
    html = client.get("/comparisons/similar").get_data(as_text=True)
    assert "Your comparisons are not ready yet" in text_of(html)
    assert client.get("/progress/no_such_indicator").status_code == 404


# -- similar challenges ---------------------------------------------------------------------------


def test_similar_page_explains_each_set_and_says_when_there_is_no_context(
    journeyed: Flask, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    view = view_of(journeyed, DURHAM)
    explanation = view.table("similar_explanation")
    assert not explanation.empty  # the demo loaded the synthetic context
    members = view.table("similar_members")
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    response = client.get("/comparisons/similar")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    check_page(html)
    assert 'href="/comparisons/" aria-current="true"' in html  # under Comparisons
    text = text_of(main_of(html))
    for weights in DEFAULT_SETS:
        block = text_of(section(html, f"set-{weights.name}"))
        assert weights.label in block
        assert weights.rationale in block
        rows = explanation.loc[explanation["set_name"] == weights.name]
        assert len(rows) == len(weights.weights)
        for record in rows.to_dict("records"):
            spec = CONTEXT_VARIABLES[record["variable"]]
            z = f"{record['owner_z']:+.2f}".replace("-", "\u2212")
            assert re.search(
                rf"{re.escape(spec.label)} .*? {record['weight']:g} "
                rf"{record['weight_share']:.0%} \S+ {re.escape(z)} ",
                block,
            ), (weights.name, record["variable"])
        mine = members.loc[members["set_name"] == weights.name] if not members.empty else members
        if mine.empty:
            assert "has figures in the exchange yet" in block
        for record in mine.sort_values("rank").to_dict("records"):
            name = load_reference().la_name(str(record["la_code"]))
            assert f"{name} {record['rank']} {record['distance']:.2f}" in block
    assert "There are no similar-challenges sets yet" not in text
    # Without context, no sets: the page says why and where the context is.
    with journeyed.app_context():
        db.session.execute(delete(ContextValue))
        db.session.execute(delete(ContextDataset))
        db.session.commit()
    invoke(journeyed, "comparisons", "recompute")
    assert view_of(journeyed, DURHAM).table("similar_explanation").empty
    html = client.get("/comparisons/similar").get_data(as_text=True)
    check_page(html)
    text = text_of(main_of(html))
    assert "There are no similar-challenges sets yet" in text
    assert 'href="/context/E06000047"' in html
    for weights in DEFAULT_SETS:
        assert weights.label not in text
    overview = text_of(main_of(client.get("/comparisons/").get_data(as_text=True)))
    assert "No context figures" in overview
