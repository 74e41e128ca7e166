"""index.html in a real headless browser: Chromium from the Debian packages, driven by
selenium with the system chromedriver (no browser download; `.ci/run` installs them).

Checks that the page loads without console errors, that every embedded figure is
decoded, and that a screenshot is not blank. Skipped, with the reason shown, when
Chromium, chromedriver or selenium is missing, except in CI (``CI=true``), where
`.ci/run` installs them and a missing browser is an error.
"""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

MISSING = "Chromium not installed (apt-get install chromium chromium-driver; .ci/run does)"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and not IN_CI, reason=MISSING
)

ARGUMENTS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,2000",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.fail(f"CI=true: {MISSING}")
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium not installed (the dev extra has it)"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


IMAGES = """return Array.from(document.images).map(
    i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))"""


def _errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _distinct_colours(png: bytes) -> int:
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(np.int64)
    return len(np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]))


def test_report_page_loads_decodes_every_figure_and_is_not_blank(browser, report_dir):
    page = report_dir / "index.html"
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title == "deepalloc benchmark report"
    assert _errors(browser) == []
    images = browser.execute_script(IMAGES)
    figures = page.read_text().count("<img ")
    assert len(images) == figures >= 8
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)"
    )
    assert headings[:2] == ["Verdict", "Settings"]
    assert browser.execute_script("return document.querySelectorAll('table').length") >= 6
    assert _distinct_colours(browser.get_screenshot_as_png()) > 100


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    # the same checks fail on a page with a corrupt figure and a script error, and on a
    # blank page
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bad</title>'
        '</head><body><img src="data:image/png;base64,iVBORw0KGgo=" alt="corrupt">'
        "<script>undefinedFunction()</script></body></html>"
    )
    browser.get(bad.as_uri())
    assert _errors(browser)
    (image,) = browser.execute_script(IMAGES)
    assert image["width"] == 0
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>")
    browser.get(blank.as_uri())
    assert _distinct_colours(browser.get_screenshot_as_png()) == 1
