"""Layout in real Chromium at phone and desktop sizes: no sideways scroll from 360 px up, a
small sticky bar on a phone, titles that wrap only between tokens, readable hovered primary
buttons, a weight editor that shows the whole number and hides nothing, and at 1440x900 the
strip, its gradients and the equations on one screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_testlib import (
    IDLE,
    PageLog,
    logged_page,
    open_editor,
    require_chromium,
    screenshot,
    use_twoblock,
    wait_idle,
)
from playwright.sync_api import Browser, Page

require_chromium()


@pytest.fixture
def sized(browser: Browser, server_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    width, height = request.param
    with logged_page(browser, server_url, PageLog(origin=server_url)) as page:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_selector(IDLE, state="attached")
        yield page


def scroll_width(page: Page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def broken_tokens(page: Page) -> list[str]:
    """Title tokens drawn over more than one line (e.g. "A1" split as "A" / "1")."""
    return page.evaluate("""() => [...document.querySelectorAll('.formula .tok')]
        .filter(t => t.getClientRects().length > 1).map(t => t.textContent)""")


def through_backward(page: Page) -> None:
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")


@pytest.mark.parametrize("sized", [(390, 844), (360, 740)], indirect=True, ids=["390", "360"])
def test_phone_no_sideways_scroll_small_bar_whole_titles(sized: Page) -> None:
    page = sized
    width = page.viewport_size["width"]
    assert scroll_width(page) <= width
    bar = page.evaluate("() => document.querySelector('.controls').getBoundingClientRect().height")
    assert bar <= 0.16 * page.viewport_size["height"], f"the sticky controls take {bar} px"
    through_backward(page)
    assert scroll_width(page) <= width
    assert broken_tokens(page) == []
    page.click("#btn-more")  # the folded settings open
    assert page.locator("#btn-reset").is_visible()
    page.click("#btn-more")
    screenshot(page, f"layout-{width}-seed.png")
    use_twoblock(page)
    through_backward(page)
    assert scroll_width(page) <= width
    assert broken_tokens(page) == []
    screenshot(page, f"layout-{width}-twoblock.png")


@pytest.mark.parametrize("sized", [(1440, 900)], indirect=True, ids=["1440"])
def test_desktop_strip_gradients_and_equations_fit_one_screen(sized: Page) -> None:
    page = sized
    through_backward(page)
    top = page.evaluate("() => document.getElementById('strip-moment').getBoundingClientRect().top + scrollY")
    bar = page.evaluate("() => document.querySelector('.controls').getBoundingClientRect().height")
    bottom = page.evaluate("() => document.querySelector('.equations').getBoundingClientRect().bottom + scrollY")
    assert bottom - top <= 900 - bar, f"strip + equations need {bottom - top} px under a {bar} px bar"
    assert broken_tokens(page) == []
    screenshot(page, "layout-1440-seed.png")

    # Editing a weight scrolls nothing and covers nothing of the strip; the editor shows the whole number.
    page.evaluate("() => document.getElementById('pval-W1').scrollIntoView({ block: 'center' })")
    before = page.evaluate("() => scrollY")
    page.locator("#pval-W1-0").click(position={"x": 10, "y": 10})
    open_editor(page)
    assert page.evaluate("() => scrollY") == before
    value = page.locator("#editor-value")
    assert page.evaluate("e => e.scrollWidth <= e.clientWidth", value.element_handle())
    page.evaluate("() => window.scrollTo(0, 0)")
    strip = page.locator("#strip").bounding_box()
    editor = page.locator("#editor").bounding_box()
    assert page.locator("#editor").is_visible()
    controls = page.locator(".controls").bounding_box()
    assert strip["y"] >= controls["y"] + controls["height"] - 1
    page.keyboard.press("Escape")

    use_twoblock(page)
    through_backward(page)
    assert scroll_width(page) <= 1440
    assert broken_tokens(page) == []
    screenshot(page, "layout-1440-twoblock.png")
    assert editor["height"] > 0


def contrast(page: Page, selector: str) -> float:
    """WCAG contrast of an element's text colour on its background colour (both opaque rgb)."""
    return page.evaluate("""(sel) => {
        const e = document.querySelector(sel), cs = getComputedStyle(e);
        const lum = (c) => { const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map(v => {
            v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const a = lum(cs.color), b = lum(cs.backgroundColor);
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }""", selector)


def test_hovered_primary_buttons_stay_readable(page: Page) -> None:
    for sel in ("#btn-step", "#btn-train", "#arch-apply"):
        page.locator(sel).scroll_into_view_if_needed()
        page.hover(sel)
        assert contrast(page, sel) >= 4.5, sel
