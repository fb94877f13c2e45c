"""End to end in a real browser: Debian's headless Chromium, driven by Selenium, against the launched demo.

Under CI (``FEA_AGENT_REQUIRE_BROWSER=1``) a missing browser fails the test; elsewhere it skips, saying why.
The screenshot lands in ``test-artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")
selenium = pytest.importorskip("selenium")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    message = (
        f"headless Chromium is missing ({', '.join(missing)}): apt-get install -y chromium chromium-driver"
    )
    if os.environ.get("FEA_AGENT_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def app_url(pipeline):
    from fea_agent.demo import build_app, launch

    app = build_app(pipeline, reasoners=("facs", "openai"))
    _, url, _ = launch(app, port=None, prevent_thread_lock=True, quiet=True)
    yield url
    app.close()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fea-agent-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_astronaut_upload_shows_happiness_and_an_au_chart(app_url, browser, astronaut):
    browser.get(app_url)
    wait = WebDriverWait(browser, 60)
    file_input = wait.until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#fea-image-input input[type=file]"))
    )
    started = time.perf_counter()
    file_input.send_keys(str(astronaut))
    headline = wait.until(EC.text_to_be_present_in_element((By.ID, "fea-headline"), "Happiness"))
    elapsed = time.perf_counter() - started
    assert headline
    # The AU chart is drawn by Vega: wait for its canvas or svg, and for the FACS names on its axis.
    chart = browser.find_element(By.ID, "fea-au-chart")
    wait.until(lambda d: chart.find_elements(By.CSS_SELECTOR, "svg.marks g.mark-rect path"))
    reasoning = browser.find_element(By.ID, "fea-reasoning")
    assert "AU12" in reasoning.text
    assert reasoning.find_elements(By.CSS_SELECTOR, "mark.fea-for"), "cited AUs are highlighted"
    photo = browser.find_element(By.CSS_SELECTOR, "#fea-photo img")
    assert photo.get_attribute("src").startswith("data:image/jpeg;base64,")
    # Vega draws SVG here: the bars are marks, the FACS names are axis text.
    assert chart.find_elements(By.CSS_SELECTOR, "g.mark-rect path"), "the AU chart has bars"
    assert "AU12 Lip corner puller" in chart.text
    time.sleep(1.0)  # let the charts finish their transition before the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo_image_tab.png"))
    print(f"astronaut: upload to 'Happiness' on the page in {elapsed:.2f} s")
