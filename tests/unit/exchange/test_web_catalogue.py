"""The landing page, the indicator catalogue pages and the security headers on every response."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from schemas.catalogue import load_catalogue

PAGES = ["/", "/catalogue", "/catalogue?domain=child_outcomes", "/catalogue/t3_referrals_nfa"]


def _html(client: FlaskClient, url: str, status: int = 200) -> str:
    with client.get(url) as response:
        assert response.status_code == status, url
        return response.get_data(as_text=True)


def test_landing_page_renders_service_and_links(client: FlaskClient) -> None:
    html = _html(client, "/")
    assert "Children&#39;s social care benchmarking exchange" in html
    assert 'href="/catalogue"' in html
    assert 'href="/validate"' in html
    assert "govuk-phase-banner" in html
    assert ">Alpha<" in html
    assert 'href="#main-content"' in html
    assert 'id="main-content"' in html


def test_catalogue_lists_every_domain_outcome_and_indicator(client: FlaskClient) -> None:
    catalogue = load_catalogue()
    html = _html(client, "/catalogue")
    for domain in catalogue.domains.values():
        assert f'id="domain-{domain.id}"' in html
    for indicator_id in catalogue.indicators:
        assert f'href="/catalogue/{indicator_id}"' in html
    assert html.count("<caption") == len(
        {(i.domain, i.outcome) for i in catalogue.indicators.values()}
    )
    assert f"Showing {len(catalogue.indicators)} indicators" in html


def test_catalogue_shows_indicator_attributes(client: FlaskClient) -> None:
    html = _html(client, "/catalogue?domain=conditions_culture")
    row = html[html.index('href="/catalogue/t2_council_commitment"') :]
    row = row[: row.index("</tr>")]
    assert "t2_council_commitment" in row
    assert "Survey item, % agreeing" in row
    assert "Higher is better" in row
    assert "Organisation and workforce" in row
    assert "New" in row
    assert "Staff level" in row


def test_catalogue_filter_by_domain_shows_only_that_domain(client: FlaskClient) -> None:
    catalogue = load_catalogue()
    html = _html(client, "/catalogue?domain=child_outcomes")
    assert 'id="domain-child_outcomes"' in html
    assert 'id="domain-reaching_families"' not in html
    shown = set(re.findall(r'<a class="govuk-link" href="/catalogue/([a-z0-9_]+)"', html))
    assert shown == {i.id for i in catalogue.by_domain("child_outcomes")}
    assert '<option value="child_outcomes" selected>' in html


def test_catalogue_unknown_domain_is_404(client: FlaskClient) -> None:
    _html(client, "/catalogue?domain=nonsense", status=404)


def test_indicator_detail_shows_fields_and_triangulation_links(client: FlaskClient) -> None:
    catalogue = load_catalogue()
    indicator = catalogue.indicators["t2_council_commitment"]
    html = _html(client, f"/catalogue/{indicator.id}")
    assert indicator.text in html
    assert indicator.cohort in html
    assert "Higher is better" in html
    group = catalogue.triangulation_group(indicator.id)
    assert group
    for other in group:
        assert f'href="/catalogue/{other}"' in html


def test_indicator_detail_unknown_id_is_404(client: FlaskClient) -> None:
    html = _html(client, "/catalogue/no_such_indicator", status=404)
    assert "Page not found" in html


@pytest.mark.parametrize("url", [*PAGES, "/validate", "/catalogue/nope", "/static/css/app.css"])
def test_security_headers_are_on_every_response(client: FlaskClient, url: str) -> None:
    with client.get(url) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("url", [*PAGES, "/validate", "/catalogue/nope"])
def test_pages_have_no_inline_script_or_style(client: FlaskClient, url: str) -> None:
    html = _html(client, url, status=404 if url.endswith("/nope") else 200)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, "GOV.UK Frontend is started by a script file"
    for attributes, body in scripts:
        assert 'src="/static/' in attributes
        assert not body.strip()
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "javascript:" not in html


def test_govuk_frontend_assets_are_served_locally(client: FlaskClient) -> None:
    def status(url: str) -> int:
        with client.get(url) as response:
            return response.status_code

    with client.get("/static/govuk/govuk-frontend.min.css") as response:
        assert response.status_code == 200, "run `npm ci && npm run build` (scripts/bootstrap does)"
        css = response.data
    assert b"url(/assets/" not in css  # rewritten relative to the stylesheet
    font = re.search(rb"url\((assets/fonts/[^)]+\.woff2)\)", css)
    assert font
    assert status(f"/static/govuk/{font.group(1).decode()}") == 200
    assert status("/static/govuk/govuk-frontend.min.js") == 200
    assert status("/static/js/init.js") == 200
