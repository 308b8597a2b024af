"""Write docs/explore.png and docs/explore_dominance.png: the explorer in headless Chromium.

Starts ``defdip explore SCENARIO --no-browser`` on a free port, opens the page in Chromium
(Playwright with a system Chromium, no download), pins the starting run, moves one constant so the
pinned run and the current one differ, waits for the uncertainty band, and screenshots the page;
then the loop-dominance tab once its scores are drawn.

Run from anywhere: ``python scripts/make_explore_screenshots.py [SCENARIO] [--set NAME=VALUE]
[--chromium PATH] [--out-dir DIR]``. Needs the ``explore`` extra and Playwright.
"""
from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT = 120_000  # [ms]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(scenario: str, save_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "defdip.cli.main", "explore", scenario, "--no-browser",
                             "--port", str(free_port()), "--save-dir", save_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        found = re.search(r"at (http://\S+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit(f"defdip explore did not start (exit {proc.wait()})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="baseline")
    parser.add_argument("--set", default="war end year=2026", metavar="NAME=VALUE",
                        help="the change shown against the pinned run (default: war end year=2026)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--out-dir", type=Path, default=PACKAGE_ROOT / "docs")
    args = parser.parse_args(argv)
    name, value = (part.strip() for part in args.set.split("=", 1))
    from playwright.sync_api import sync_playwright

    save = tempfile.mkdtemp(prefix="explore-shots-")
    proc, url = start(args.scenario, save)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            page.goto(url)
            page.locator("#band-status[data-done='1']").wait_for(timeout=WAIT)
            page.locator(".dd-pin").get_by_role("button").click()
            page.locator("#message").wait_for(timeout=WAIT)  # "pinned the current run"
            latest = int(page.locator(".dd-version").get_attribute("data-version")) + 1
            box = page.get_by_placeholder(name, exact=True)
            box.fill(value)
            box.press("Enter")
            page.locator(f"#band-status[data-done='1'][data-version='{latest}']").wait_for(timeout=WAIT)
            args.out_dir.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out_dir / "explore.png"))
            page.get_by_text("Loop dominance", exact=True).click()
            page.locator(f"#loops-status[data-done='1'][data-version='{latest}']").wait_for(timeout=WAIT)
            page.wait_for_timeout(500)  # the new tab's figure lays out
            page.screenshot(path=str(args.out_dir / "explore_dominance.png"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(save, ignore_errors=True)
    print(args.out_dir / "explore.png", args.out_dir / "explore_dominance.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
