"""``defdip explore`` in headless Chromium: slider -> redraw, uncertainty band, cold start.

Measured side by side in one run, against the issue's targets:

* slider -> redrawn charts: ``--changes`` key presses on the ``war start year`` slider (left,
  right, left, ...), each timed from the key press in Playwright to the second animation frame
  after the page shows the new run (the server has re-run the model, sent the new data, and the
  browser has painted it); median and 95th percentile, targets 150 ms and 300 ms. The time
  includes Playwright's own round trips, so it is an upper bound on what a user sees.
* uncertainty band of ``--band-runs`` runs: from the last key press of a burst to the band for
  that change being drawn; target 1 s.
* cold start: from launching ``defdip explore --no-browser`` to the first interactive page in
  Chromium (the page's first run shown), after one start that warms the caches; target 5 s.

Usage::

    python benchmarks/bench_explore.py [--changes 50] [--band-runs 200] [--starts 3]

Needs the ``explore`` extra, Playwright (``pip install playwright``, no browser download) and a
Chromium binary (Debian's ``chromium``; ``--chromium PATH`` to choose another).
"""
from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGETS = {"redraw median": 0.150, "redraw p95": 0.300, "band": 1.0, "cold start": 5.0}  # [s]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SLIDER = ".dd-slider-war-start-year .noUi-handle"
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(save_dir: str, band_runs: int) -> tuple[subprocess.Popen, str, float]:
    """Launch the command; returns the process, its address and the launch time (perf_counter)."""
    launched = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "defdip.cli.main", "explore", "--no-browser",
                             "--port", str(free_port()), "--save-dir", save_dir, "--band-runs", str(band_runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        found = re.search(r"at (http://\S+)", line)
        if found:
            return proc, found.group(1), launched
    raise SystemExit(f"defdip explore did not start (exit {proc.wait()})")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(url)
    page.locator("#transition-text").wait_for(timeout=120_000)
    return page


def version(page) -> int:
    return int(page.locator(".dd-version").get_attribute("data-version"))


def press_and_wait(page, key: str) -> float:
    """Press ``key`` on the slider; seconds until the new run is painted."""
    before = version(page)
    started = time.perf_counter()
    page.locator(SLIDER).press(key)
    # Playwright's CSS engine looks inside the shadow roots Panel renders into
    page.locator(f".dd-version[data-version='{before + 1}']").wait_for(state="attached", timeout=30_000)
    page.evaluate(PAINTED)
    return time.perf_counter() - started


def band_after_burst(page, presses: int = 3) -> float:
    """Seconds from the last of a few quick key presses to that change's band being drawn."""
    for i in range(presses - 1):
        page.locator(SLIDER).press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
    before = version(page)
    started = time.perf_counter()
    page.locator(SLIDER).press("ArrowLeft")
    deadline = started + 60
    while time.perf_counter() < deadline:
        status = page.locator("#band-status")
        if version(page) > before and status.get_attribute("data-done") == "1" \
                and int(status.get_attribute("data-version")) == version(page):
            return time.perf_counter() - started
        time.sleep(0.005)
    raise SystemExit("the band never arrived")


def report(name: str, seconds: float) -> None:
    target = TARGETS[name]
    print(f"  {name:<14} {seconds * 1000:8.0f} ms   target {target * 1000:6.0f} ms   "
          f"ratio {seconds / target:5.2f}  {'ok' if seconds <= target else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--band-runs", type=int, default=200)
    parser.add_argument("--bands", type=int, default=5, help="bursts timed for the band")
    parser.add_argument("--starts", type=int, default=3, help="cold starts timed (after one warm-up)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    save = tempfile.mkdtemp(prefix="bench-explore-")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        starts = []
        for i in range(args.starts + 1):  # the first start warms the caches and is not counted
            proc, url, launched = start_server(save, args.band_runs)
            page = open_page(browser, url)
            if i:
                starts.append(time.perf_counter() - launched)
            if i < args.starts:
                page.close()
                stop(proc)
        page.locator("#band-status[data-done='1']").wait_for(timeout=120_000)
        redraws = [press_and_wait(page, "ArrowLeft" if i % 2 == 0 else "ArrowRight") for i in range(args.changes)]
        bands = [band_after_burst(page) for _ in range(args.bands)]
        page.close()
        stop(proc)
        browser.close()
    shutil.rmtree(save, ignore_errors=True)
    print(f"defdip explore in headless Chromium ({args.changes} slider changes, band of {args.band_runs} runs, "
          f"{args.starts} cold starts)")
    report("redraw median", statistics.median(redraws))
    report("redraw p95", float(np.percentile(redraws, 95)))
    report("band", statistics.median(bands))
    print(f"  {'':14} band worst of {len(bands)}: {max(bands) * 1000:.0f} ms")
    report("cold start", statistics.median(starts))
    print(f"  {'':14} cold starts: {', '.join(f'{s:.2f}' for s in starts)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
