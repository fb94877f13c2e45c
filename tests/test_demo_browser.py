"""End to end in a real browser: Debian's headless Chromium, driven by Selenium, against the launched demo.

Besides one upload, a visitor's whole sequence: two photos one after the other, the landmarks toggle, a webcam
snapshot, Compare pressed again with one side replaced and with the same photo on both sides, a second tab at
the same time, the video analysed twice; after each step every panel is checked for error badges and messages, every chart's
legend for being inside its box, and the temp folders and /dev/shm for the photos' bytes.

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
from conftest import ASTRONAUT, NEUTRAL_FACE, VIDEO, needs_shared
from photo_copies import TEMP_ROOTS, copies, needles, unique_photo

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
def profile():
    folder = Path(tempfile.mkdtemp(prefix="fea-agent-chromium-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def camera(profile):
    """A fake webcam that films the astronaut: a Y4M clip for Chromium's fake capture device."""
    import cv2
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = cv2.resize(rgb, (480, 480))
    clip = profile / "camera.y4m"
    with clip.open("wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
        f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return clip


@pytest.fixture(scope="module")
def browser(profile, camera):
    _require_browser()
    from selenium.webdriver.chrome.service import Service

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
        "--use-fake-ui-for-media-stream",  # the webcam allowed without asking, and fed from a file
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


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


# -- a visitor's whole sequence ----------------------------------------------------------------------------------


def _problems(driver) -> list[str]:
    """Error badges over panels, error or warning messages, and chart legends cut by their box."""
    found = [f"badge over a panel: {e.text}" for e in driver.find_elements(By.CSS_SELECTOR, "span.error")]
    found += [
        f"message: {e.text}" for e in driver.find_elements(By.CSS_SELECTOR, ".toast-body") if e.text.strip()
    ]
    for plot in driver.find_elements(By.CSS_SELECTOR, ".fea-chart"):
        box = plot.rect
        if not box["height"]:
            continue  # on a tab not shown
        for legend in plot.find_elements(By.CSS_SELECTOR, ".role-legend"):
            inner = legend.rect
            if inner["y"] + inner["height"] > box["y"] + box["height"] + 1 or (
                inner["x"] + inner["width"] > box["x"] + box["width"] + 1
            ):
                found.append(f"legend cut in {plot.get_attribute('id')}: {inner} outside {box}")
    return found


def _tab(driver, name: str) -> None:
    WebDriverWait(driver, 60).until(
        EC.element_to_be_clickable((By.XPATH, f"//button[@role='tab' and normalize-space()='{name}']"))
    ).click()


def _upload(driver, elem_id: str, path: Path) -> None:
    WebDriverWait(driver, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f"#{elem_id} input[type=file]"))
    ).send_keys(str(path))


def _text(driver, elem_id: str, text: str, timeout: float = 60) -> None:
    WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((By.ID, elem_id), text))


def _photo_src(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#fea-photo img").get_attribute("src")


def _toggle_landmarks(driver) -> None:
    before = _photo_src(driver)
    driver.find_element(By.CSS_SELECTOR, "#fea-landmarks input").click()
    WebDriverWait(driver, 30).until(lambda d: _photo_src(d) != before)


def _webcam_snapshot(driver) -> None:
    def button(label: str):
        return WebDriverWait(driver, 30).until(
            EC.element_to_be_clickable(
                (
                    By.XPATH,
                    f"//*[@id='fea-image-input']//button[@aria-label='{label}' or normalize-space()='{label}']",
                )
            )
        )

    button("Capture from camera").click()
    button("Click to Access Webcam").click()
    button("capture photo").click()


def _cache_files() -> list[Path]:
    """What the demo's private cache holds, but for its lock and the CSVs of the download button."""
    from fea_agent.demo.uploads import LOCK_NAME, private_cache_dir

    cache = private_cache_dir()
    return [p for p in cache.rglob("*") if p.is_file() and p.parent.name != "csv" and p.name != LOCK_NAME]


def _settle(driver, seconds: float = 1.5) -> list[str]:
    time.sleep(seconds)  # a late error badge or message would appear by now
    return _problems(driver)


@pytest.fixture
def photos(tmp_path):
    """Two photos with bytes no other file holds (a smiling and a neutral face), in the test's own folder."""
    smiling, neutral = tmp_path / "smiling.png", tmp_path / "neutral.png"
    smiling.write_bytes(unique_photo(ASTRONAUT))
    neutral.write_bytes(unique_photo(NEUTRAL_FACE))
    pieces = needles(smiling.read_bytes()) + needles(neutral.read_bytes())
    return smiling, neutral, pieces


@pytest.mark.slow
def test_a_visitors_sequence_of_photos_toggles_compares_and_tabs_shows_no_error_and_keeps_no_copy(
    app_url, browser, photos, profile, tmp_path
):
    smiling, neutral, pieces = photos
    since = time.time() - 1
    ours = (tmp_path, profile)  # the inputs the browser reads, and the browser's own profile

    def no_copies(step: str) -> None:
        assert copies(pieces, TEMP_ROOTS, since, exclude=ours) == [], f"a copy of a photo is left {step}"
        assert _cache_files() == [], f"an upload is left in the demo's cache {step}"

    def clean(step: str) -> None:
        assert _settle(browser) == [], step
        no_copies(step)

    browser.get(app_url)
    first = browser.current_window_handle
    _upload(browser, "fea-image-input", smiling)
    _text(browser, "fea-headline", "Happiness")
    clean("after the first photo")
    _toggle_landmarks(browser)
    clean("after the landmarks toggle")
    _upload(browser, "fea-image-input", neutral)  # a second photo, into the cleared input
    _text(browser, "fea-headline", "Neutral")
    clean("after the second photo")
    _toggle_landmarks(browser)
    _toggle_landmarks(browser)
    assert "Neutral" in browser.find_element(By.ID, "fea-headline").text
    clean("after toggling twice on the second photo")
    _webcam_snapshot(browser)  # a third photo, from the webcam
    _text(browser, "fea-headline", "Happiness")
    _toggle_landmarks(browser)
    clean("after a webcam snapshot")
    _upload(browser, "fea-image-input", neutral)  # and back to a file
    _text(browser, "fea-headline", "Neutral")
    clean("after a file again")

    _tab(browser, "Compare")
    _upload(browser, "fea-compare-a", neutral)
    _upload(browser, "fea-compare-b", smiling)
    _text(browser, "fea-compare-summary", "Press Compare")
    browser.find_element(By.ID, "fea-compare-run").click()
    _text(browser, "fea-compare-summary", "Neutral → 😊 Happiness")
    clean("after the first Compare")
    _upload(browser, "fea-compare-b", neutral)  # the same photo on both sides
    _text(browser, "fea-compare-summary", "Press Compare")
    browser.find_element(By.ID, "fea-compare-run").click()
    _text(browser, "fea-compare-summary", "B shows the same expression")
    clean("after Compare with one photo on both sides")
    _upload(browser, "fea-compare-a", smiling)
    _text(browser, "fea-compare-summary", "Press Compare")
    browser.find_element(By.ID, "fea-compare-run").click()
    _text(browser, "fea-compare-summary", "Happiness → 😐 Neutral")
    browser.find_element(By.ID, "fea-compare-run").click()  # again, nothing changed
    clean("after Compare pressed again")
    assert "Happiness → 😐 Neutral" in browser.find_element(By.ID, "fea-compare-summary").text

    browser.switch_to.new_window("tab")  # a second visitor session, while the first one holds its photos
    second = browser.current_window_handle
    browser.get(app_url)
    _upload(browser, "fea-image-input", smiling)
    _text(browser, "fea-headline", "Happiness")
    clean("in a second tab")
    browser.switch_to.window(first)
    _tab(browser, "Image")
    _toggle_landmarks(browser)  # the first tab still has its own photo
    assert "Neutral" in browser.find_element(By.ID, "fea-headline").text
    clean("back in the first tab")
    browser.switch_to.window(second)
    browser.close()
    browser.switch_to.window(first)
    browser.get("about:blank")  # the first session ends too
    time.sleep(2)
    no_copies("after both tabs closed")


@needs_shared
@pytest.mark.slow
def test_video_analysed_twice_then_its_clip_goes_with_the_tab(app_url, browser):
    from fea_agent.demo.uploads import private_cache_dir

    cache = private_cache_dir()

    def clips() -> list[Path]:
        return [p for p in cache.rglob(VIDEO.name) if p.is_file()]

    def analyse(every: int, frames: int) -> None:
        stride = browser.find_element(By.CSS_SELECTOR, "#fea-video-stride input[type=number]")
        stride.clear()
        stride.send_keys(str(every))
        time.sleep(0.5)  # the slider takes the typed value on its next tick
        browser.find_element(By.ID, "fea-video-run").click()
        _text(browser, "fea-video-summary", f"{frames} frames analysed", timeout=120)

    browser.switch_to.new_window("tab")
    browser.get(app_url)
    _tab(browser, "Video")
    _upload(browser, "fea-video-input", VIDEO)
    WebDriverWait(browser, 30).until(lambda _: clips())
    analyse(10, 48)
    assert _settle(browser) == []
    analyse(8, 59)  # again, with another stride: the clip is still the session's
    assert _settle(browser) == []
    assert browser.find_element(By.ID, "fea-video-csv").is_displayed()
    assert clips(), "the clip is held while its tab is open"
    browser.close()  # the tab goes: its session's clip goes with it
    browser.switch_to.window(browser.window_handles[0])
    deadline = time.monotonic() + 30
    while clips() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert clips() == [], "the clip outlived its tab"
