"""The portal in a real browser: County Durham's demo submitter, signed in through the sign-in
pages, sees each of their pages (status 200, a heading, no serious or critical axe-core
violation), sends a corrected return through the upload form and accepts it, and then sees a
newer comparison set; the skip link works from the keyboard. Fixtures: tests/browser/conftest.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from schemas.synth import generate
from schemas.synth.files import file_name, frame_to_csv, split_by_upload

if TYPE_CHECKING:
    from conftest import Portal

pytestmark = pytest.mark.browser

Axe = Callable[[Page], None]

PAGES = [
    "/submissions",
    "/comparisons/",
    "/comparisons/similar",
    "/progress/",
    "/journey",
    "/context",
    "/catalogue",
    "/jobs",
]
SET_ID = re.compile(r"Comparison set (\d+)")
INDICATOR_PAGE = re.compile(r"/comparisons/[a-z0-9_]+(\?|$)")
OTHER_PAGES = re.compile(r"/comparisons/(similar|sets)(\?|/|$)")


def open_page(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == 200, f"{path}: HTTP {response.status}"


def assert_heading(page: Page) -> None:
    heading = page.locator("h1")
    expect(heading.first).to_be_visible()
    assert heading.first.inner_text().strip(), f"{page.url}: empty <h1>"


def comparison_set_shown(page: Page) -> int:
    """The comparison set the /comparisons/ banner names."""
    open_page(page, "/comparisons/")
    banner = page.get_by_role("region", name="About these figures")
    found = SET_ID.search(banner.inner_text())
    assert found is not None, banner.inner_text()
    return int(found.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_portal_page_has_heading_and_passes_axe(page: Page, axe: Axe, path: str) -> None:
    open_page(page, path)
    assert_heading(page)
    axe(page)


def test_portal_comparisons_indicator_page_passes_axe(page: Page, axe: Axe) -> None:
    open_page(page, "/comparisons/")
    # The overview links each indicator to its page: follow the first.
    links = page.locator("main a[href^='/comparisons/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    pages = [h for h in links if INDICATOR_PAGE.match(h) and not OTHER_PAGES.match(h)]
    assert pages, links
    open_page(page, pages[0])
    assert_heading(page)
    axe(page)


def test_portal_alliance_page_has_heading_and_passes_axe(
    alliance_signed_in: BrowserContext, axe: Axe
) -> None:
    page = alliance_signed_in.new_page()
    try:
        open_page(page, "/alliance/")
        assert_heading(page)
        expect(page.locator("#member-table")).to_be_visible()
        axe(page)
    finally:
        page.close()


def test_portal_skip_link_is_first_tab_stop_and_moves_focus_to_main(page: Page) -> None:
    open_page(page, "/submissions")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to main content")
    expect(focused).to_have_attribute("href", "#main-content")
    page.keyboard.press("Enter")
    expect(page.locator("main#main-content")).to_be_focused()
    assert page.url.endswith("#main-content")


def test_portal_upload_flow_accepts_a_correction_and_refreshes_comparisons(
    page: Page, axe: Axe, portal: Portal, tmp_path: Path
) -> None:
    before = comparison_set_shown(page)

    # A corrected 2025 return for County Durham: the same LA, other numbers (another seed).
    [(period, code, name, part)] = split_by_upload(generate([2025], 7, las=["840"]))
    upload = tmp_path / file_name(code, name, period)
    upload.write_bytes(frame_to_csv(part))

    open_page(page, "/submissions")
    page.get_by_role("button", name="Upload a return").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload a return")
    axe(page)
    page.get_by_label("Upload a file").set_input_files(upload)
    page.get_by_role("button", name="Upload and check").click()

    # The check's result: valid, with the choice to submit it.
    expect(page.get_by_role("heading", level=1)).to_have_text("Your file is valid")
    expect(page.get_by_text(f"{len(part):,} rows checked, no errors")).to_be_visible()
    axe(page)
    page.get_by_role("button", name="Accept and submit").click()

    success = page.locator(".govuk-notification-banner--success")
    expect(success).to_contain_text("accepted as version 2")
    expect(success).to_contain_text(f"({len(part):,} rows)")
    axe(page)

    output = portal.invoke("comparisons", "recompute")
    assert f"comparison set {before + 1}" in output, output
    after = comparison_set_shown(page)
    assert after > before
