"""`defdip explore` in real headless Chromium, driven by Playwright (Debian's chromium, no download).

One server (the real command, in a subprocess) for the module; each test opens its own page,
so each is a fresh session. Every request the page makes is recorded: one to a host other than
127.0.0.1 fails the test (assets must be served locally, nothing from a CDN).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT

from defdip.cli.main import main

# Panel 1.9 renames `name` to `label`; the extra allows Panel 1.4, which knows only `name`.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without these the machine's closed network refuses Chromium's background connections.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 180  # [s] the first start compiles the model
WAIT = 180_000  # [ms] for the page's first draw and band: a deadline against hanging, not a speed test


def need(reason: str):
    if os.environ.get("DEFDIP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"DEFDIP_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(f"{reason}; set DEFDIP_REQUIRE_BROWSER=1 to fail")


@pytest.fixture(scope="module")
def chromium():
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        need("no Chromium binary found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright is not installed (pip install -e '.[test]')")
    pytest.importorskip("panel")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=found, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# The shipped baseline never turns strategic; this test condition does (a 2025 ceasefire undoes it).
ALLIANCE = ROOT / "tests" / "scenarios" / "isolation_alliance.yaml"

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(target: list[str], save: Path):
    """`defdip explore --no-browser TARGET` on a free port; yields (url, port, save folder), then stops it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "defdip.cli.main", "explore", *target, "--no-browser",
                             "--port", str(port),
                             "--save-dir", str(save)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, lines, started = None, [], time.monotonic()
    while url is None and time.monotonic() - started < START_TIMEOUT:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        found = re.search(r"at (http://\S+)", line)
        url = found.group(1) if found else None
    if url is None:
        proc.kill()
        pytest.fail("defdip explore did not start:\n" + "".join(lines))
    # keep reading the server's output, so a full pipe never blocks it; shown if a test fails
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    yield url, port, save
    proc.terminate()
    proc.wait(timeout=20)
    errors = [line for line in lines if "Traceback" in line or "Error" in line]
    assert not errors, "the server logged errors:\n" + "".join(lines[-80:])


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium):
    """The explorer on the test condition; yields (url, port, save folder)."""
    yield from start_server([str(ALLIANCE)], tmp_path_factory.mktemp("explore-save"))


class Page:
    """A browser tab on the explorer, with every console error and every request's host recorded."""

    def __init__(self, browser, url: str):
        self.tab = browser.new_page(viewport={"width": 1500, "height": 1000})
        self.errors, self.hosts = [], set()
        self.tab.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.tab.on("pageerror", lambda e: self.errors.append(str(e)))
        self.tab.on("request", lambda r: self.hosts.add(r.url.split("/")[2]))
        self.tab.goto(url)
        self.tab.locator("#transition-text").wait_for(timeout=WAIT)

    def version(self) -> int:
        return int(self.tab.locator(".dd-version").get_attribute("data-version"))

    def type_value(self, constant: str, text: str) -> None:
        """Type into a constant's box and press Enter; wait until the server has answered."""
        before = self.version()
        box = self.tab.get_by_placeholder(constant, exact=True)
        box.fill(text)
        box.press("Enter")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a refused value changes the message, not the version
            if self.version() != before or self.tab.locator("#message").count():
                return
            time.sleep(0.05)
        raise AssertionError(f"no answer to {constant} = {text}")

    def open_group_of(self, constant: str) -> None:
        """Open the card of the group a constant is in (its controls are built then)."""
        from defdip.core.scenario import load_scenario
        from defdip.io.explore_state import controls_for, grouped

        groups = grouped(controls_for(load_scenario(ALLIANCE)))
        name, items = next((g, items) for g, items in groups.items() if any(c.name == constant for c in items))
        self.tab.get_by_text(f"{name} ({len(items)})", exact=True).click()
        self.tab.get_by_placeholder(constant, exact=True).wait_for(timeout=WAIT)

    def transition(self) -> str:
        return self.tab.locator("#transition-text").inner_text()

    def numbers(self) -> dict:
        cells = self.tab.locator("td[data-key]")
        out = {}
        for i in range(cells.count()):
            cell = cells.nth(i)
            raw = cell.get_attribute("data-value")
            out[cell.get_attribute("data-key")] = None if raw == "None" else float(raw)
        return out

    def close(self):
        self.tab.close()


@pytest.fixture
def page(chromium, server):
    tab = Page(chromium, server[0])
    yield tab
    assert tab.hosts <= {f"127.0.0.1:{server[1]}"}, f"requests left this machine: {tab.hosts}"
    tab.close()


# --- subscripted models: each test starts and stops its own server, before the module's one starts

BASS_REGIONS = ROOT / "tests" / "models" / "ltm" / "bass_regions.mdl"  # a `region: r1, r2, r3` subscript


@pytest.fixture
def regions_server(tmp_path_factory, chromium):
    """The explorer on a subscripted model, for one test; yields (url, port, save folder)."""
    yield from start_server(["--model", str(BASS_REGIONS)], tmp_path_factory.mktemp("explore-regions"))


def test_one_elements_slider_redraws_only_its_region_and_saves_a_runnable_scenario(chromium, regions_server,
                                                                                   tmp_path):
    page = Page(chromium, regions_server[0])
    try:
        heading = page.tab.locator(".dd-array-contact-rate")
        assert heading.inner_text().strip() == "contact rate [1/Year]: 3 elements"
        assert page.tab.locator(".dd-slider").count() == 10  # one per element, one for the scalar
        before = page.numbers()
        handle = page.tab.locator(".dd-slider-contact-rate-r2 .noUi-handle")
        version = page.version()
        handle.focus()
        handle.press("ArrowLeft")
        deadline = time.monotonic() + 30
        while page.version() == version and time.monotonic() < deadline:
            time.sleep(0.05)
        assert page.tab.get_by_placeholder("contact rate[r2]", exact=True).input_value() == "9.8"
        after = page.numbers()
        assert after["Adopters[r2]@20"] != before["Adopters[r2]@20"]
        assert after["Adopters[r1]@20"] == before["Adopters[r1]@20"] == after["Adopters[r3]@20"]
        page.tab.locator(f"#band-status[data-done='1'][data-version='{page.version()}']").wait_for(timeout=WAIT)
        assert page.tab.locator("#band-status").inner_text().startswith("band: 5-95 % of 200 runs over 1 constants")
        page.type_value("contact rate[r2]", "8")  # a whole number: PySD's run of the file keeps it whole
        shown = page.numbers()
        box = page.tab.get_by_placeholder("file name", exact=True)
        box.fill("regions_page")
        box.press("Enter")
        page.tab.locator(".dd-save-yaml button").click()
        page.tab.locator("#message.dd-msg-ok").wait_for(timeout=WAIT)
        saved = regions_server[2].resolve() / "regions_page.yaml"
        assert "contact rate[r2]: 8\n" in saved.read_text(encoding="utf-8")
        assert main(["run", str(saved), "-o", str(tmp_path)]) == 0  # PySD, the reference engine
        frame = (tmp_path / "regions_page" / "trajectories.csv").read_text().splitlines()
        header, last = frame[0].split(","), frame[-1].split(",")
        for region in ("r1", "r2"):
            key = f"Adopters[{region}]"
            assert float(last[header.index(key)]) == pytest.approx(shown[f"{key}@20"], rel=1e-9), key
        assert page.errors == []
    finally:
        assert page.hosts <= {f"127.0.0.1:{regions_server[1]}"}, f"requests left this machine: {page.hosts}"
        page.close()


ARRAYS_2D = ROOT / "tests" / "models" / "golden" / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl"


@pytest.fixture
def arrays_server(tmp_path_factory, chromium):
    """The explorer on a model with two-dimensional arrays and no declared ranges, for one test."""
    yield from start_server(["--model", str(ARRAYS_2D)], tmp_path_factory.mktemp("explore-2d"))


def test_a_two_dimensional_constant_has_a_box_per_element_and_moves_only_it(chromium, arrays_server):
    page = Page(chromium, arrays_server[0])
    try:
        assert page.tab.locator(".dd-array-rate-a").inner_text().strip() == "Rate A: 6 elements"
        assert page.tab.locator(".dd-slider").count() == 12
        assert page.tab.locator(".bk-Canvas, canvas").count() >= 4  # Initial Values, Stock A, Inflow A, Rate A
        before = page.numbers()
        page.type_value("Initial Values[Entry 2,Column 1]", "4.5")
        after = page.numbers()
        for key, value in after.items():
            if key.startswith("Stock A"):
                assert (value != before[key]) == (key == "Stock A[Entry 2,Column 1]@100"), key
        assert after["Stock A[Entry 2,Column 1]@100"] == pytest.approx(before["Stock A[Entry 2,Column 1]@100"] + 1.5)
        # no constant declares a range, so there is nothing to draw a band over; the page says so
        page.tab.locator("#band-status[data-done='1']").wait_for(timeout=WAIT)
        assert "no band" in page.tab.locator("#band-status").inner_text()
        assert page.errors == []
    finally:
        assert page.hosts <= {f"127.0.0.1:{arrays_server[1]}"}, f"requests left this machine: {page.hosts}"
        page.close()


# --- the test condition, on the module's server

def test_page_loads_without_console_errors_and_everything_local(page):
    page.tab.locator("#band-status[data-done='1']").wait_for(timeout=WAIT)
    assert page.errors == []
    assert page.transition() not in ("", "none")  # the test condition reaches the strategic phase
    assert page.tab.locator(".bk-Canvas, canvas").count() >= 3  # the three run-figure panels


def test_war_end_year_2025_shows_no_transition(page):
    assert page.transition() != "none"
    page.type_value("war end year", "2025")
    assert page.transition() == "none"
    assert page.numbers()["transition year"] is None
    # the slider moved with it
    assert page.tab.get_by_placeholder("war end year", exact=True).input_value() == "2025"


def test_slider_keyboard_moves_the_constant(page):
    handle = page.tab.locator(".dd-slider-war-end-year .noUi-handle")
    before = page.version()
    handle.focus()
    handle.press("ArrowLeft")
    deadline = time.monotonic() + 20
    while page.version() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page.tab.get_by_placeholder("war end year", exact=True).input_value() == "2099.75"


def test_out_of_range_value_is_refused_with_the_clis_message(page, capsys):
    page.type_value("war end year", "2200")
    shown = page.tab.locator("#message").inner_text()
    assert main(["run", "--set", "war end year=2200", "-o", "unused"]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("defdip: error: ")
    assert shown == "setting " + cli.removeprefix("--set ") and "--set" not in shown  # the page's words
    assert page.transition() != "none"  # nothing changed
    assert page.tab.get_by_placeholder("war end year", exact=True).input_value() == "2100"


def test_saved_scenario_runs_with_defdip_run_and_reproduces_the_page(page, server, tmp_path):
    page.type_value("war end year", "2027")
    page.open_group_of("escalation rate")
    page.type_value("escalation rate", "3")
    shown = page.numbers()
    box = page.tab.get_by_placeholder("file name", exact=True)
    box.fill("from_the_page")
    box.press("Enter")
    page.tab.locator(".dd-save-yaml button").click()
    page.tab.locator("#message.dd-msg-ok").wait_for(timeout=WAIT)
    saved = server[2].resolve() / "from_the_page.yaml"
    assert f"saved {saved}" in page.tab.locator("#message").inner_text()
    assert main(["run", str(saved), "-o", str(tmp_path)]) == 0  # PySD, the reference engine
    summary = json.loads((tmp_path / "from_the_page" / "summary.json").read_text())
    assert summary["transition_year"] == shown["transition year"]
    compared = 0
    for key, value in shown.items():
        if "@" in key:
            variable, year = key.split("@")
            assert summary["indicators"][variable][year] == pytest.approx(value, rel=1e-6, abs=1e-9), key
            compared += 1
    assert compared >= 9


def test_server_listens_on_loopback_only(server):
    port = server[1]
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if Path(table).exists():
            for row in Path(table).read_text().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    listening.append(local.rsplit(":", 1)[0])
    if not listening:
        pytest.skip("no /proc/net/tcp to read the listening sockets from")
    assert set(listening) == {"0100007F"}, listening  # 127.0.0.1, nothing on 0.0.0.0 or ::
    others = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in others - {"127.0.0.1"}:
        if address.startswith("127."):
            continue
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(2)
            sock.connect((address, port))

