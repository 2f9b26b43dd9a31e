"""The page in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium
plays the test game: frames drawn, keys change them, the header shows the held key, two tabs play at once.

Skipped, saying why, where chromium or chromedriver is not installed (`.ci/run` installs them). The screenshot
goes to $DIAMOND_SERVE_SCREENSHOT when set (docs/images/serve.png is made so), else into the test's folder.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from pathlib import Path

import pytest

from diamond_wm.serve.server import Limits

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver packages (apt-get install chromium chromium-driver)",
)

CANVAS_SUM = """const c = document.getElementById('screen');
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let s = 0; for (let i = 0; i < d.length; i += 1) s = (s * 31 + d[i]) % 1000000007; return s;"""


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,760"):
        options.add_argument(arg)
    options.add_argument("--disable-background-timer-throttling")
    options.add_argument("--disable-renderer-backgrounding")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(test, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def _seq(driver) -> int:
    return int(driver.execute_script("return Number(document.getElementById('screen').dataset.seq || 0)"))


def _header(driver) -> str:
    return driver.find_element("id", "header").text


def test_two_tabs_play_the_test_game(serve_test_game, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    running = serve_test_game(limits=Limits(fps=20), token="browser-test-token")
    browser.get(running.base + "/?token=browser-test-token")
    _wait(lambda: _seq(browser) > 2, "frames drawn in the first tab")
    assert "token" not in browser.current_url  # moved out of the address bar
    assert "Timestep" in _header(browser)
    before = browser.execute_script(CANVAS_SUM)
    ActionChains(browser).key_down("d").perform()
    _wait(lambda: "Action : d" in _header(browser), "the header shows the held key")
    _wait(lambda: browser.execute_script(CANVAS_SUM) != before, "the frame changed")
    ActionChains(browser).key_up("d").perform()
    _wait(lambda: "Action : NOOP" in _header(browser), "the key released")
    ActionChains(browser).send_keys("h").perform()
    help_text = browser.find_element("id", "help-text")
    _wait(help_text.is_displayed, "help shown")
    assert "Controls (test game):" in help_text.text
    ActionChains(browser).send_keys("h").perform()
    _wait(lambda: not help_text.is_displayed(), "help hidden")

    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(running.base + "/")  # the cookie carries the token
    _wait(lambda: _seq(browser) > 2, "frames drawn in the second tab")
    ActionChains(browser).key_down("s").perform()
    _wait(lambda: "Action : s" in _header(browser), "the second tab's key")
    stats = running.game_server.stats()
    assert stats["players"] == 2 and stats["connected"] == 2
    frames = [p["frames"] for p in stats["per_player"]]
    time.sleep(1.0)
    later = [p["frames"] for p in running.game_server.stats()["per_player"]]
    assert all(b - a >= 10 for a, b in zip(frames, later, strict=True)), (frames, later)  # both play at once
    assert max(running.host.batch_sizes[-10:]) == 2
    shot = Path(os.environ.get("DIAMOND_SERVE_SCREENSHOT") or tmp_path / "serve.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:4] == b"\x89PNG"
    ActionChains(browser).key_up("s").perform()
    browser.switch_to.window(first)
    assert _seq(browser) > 2


def test_page_keys_focus_resume_and_messages(serve_test_game, browser):
    import pygame
    from selenium.webdriver.common.action_chains import ActionChains

    running = serve_test_game(limits=Limits(fps=20))
    browser.get(running.base + "/")
    _wait(lambda: _seq(browser) > 2, "frames drawn")
    names = browser.execute_script("return KEY_NAMES")
    expected = {"KeyW": "w", "Space": "space", "ControlLeft": "left ctrl", "ShiftLeft": "left shift"}
    expected |= {"ArrowUp": "up", "Enter": "return", "Period": ".", "PageUp": "page up", "Digit1": "1"}
    assert {code: names[code] for code in expected} == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "pygame.init() has not been called": names map without it
        unknown = [name for name in names.values() if pygame.key.name(pygame.key.key_code(name)) != name]
    assert unknown == []  # every key name of the page is pygame's

    ActionChains(browser).key_down("w").perform()
    _wait(lambda: "Action : w" in _header(browser), "the key held")
    browser.execute_script("window.dispatchEvent(new Event('blur'))")  # the page loses focus
    _wait(lambda: "Action : NOOP" in _header(browser), "held keys released on blur")
    ActionChains(browser).key_up("w").perform()

    browser.refresh()  # the same tab: its game back
    _wait(lambda: "game resumed" in browser.find_element("id", "status").text, "the game resumed")
    assert running.game_server.stats()["players"] == 1

    running.host.fail_ticks = 2
    message = browser.find_element("id", "message")
    _wait(lambda: "The world model failed" in message.text, "the model error shown")
    assert "a model error" in message.text
    _wait(lambda: _seq(browser) > 5, "frames again after the error")


def test_a_real_model_in_the_browser(serve_test_game, browser, tiny_run):
    from selenium.webdriver.common.action_chains import ActionChains

    from diamond_wm.cli.main import build_parser
    from diamond_wm.cli.serve_sources import session_host
    from tests.play.tiny_run import one_thread

    args = build_parser("serve").parse_args(["serve", str(tiny_run), "--device", "cpu", "--seed", "0"])
    with one_thread():
        host, _ = session_host(args)
        running = serve_test_game(host=host, limits=Limits(fps=10))
        browser.get(running.base + "/")
        _wait(lambda: _seq(browser) > 2, "frames of the world model drawn")
        assert "Env     : wm" in _header(browser) and "Control : policy" in _header(browser)
        ActionChains(browser).send_keys("m").perform()  # the next controller
        _wait(
            lambda: "Control : " in _header(browser) and "policy" not in _header(browser),
            "controller switched",
        )
        size = browser.execute_script(
            "const c = document.getElementById('screen'); return [c.width, c.height]"
        )
        assert size[0] == size[1] and size[0] >= 16  # the run's square frames
