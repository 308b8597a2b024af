"""`defdip compare` and `defdip report` end to end, and the HTML report opened in a real browser."""
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import ROOT, SCENARIOS

from defdip.cli.main import main
from defdip.io.report import SECTIONS

FIGURE_FILES = [f"{stem}.{ext}" for stem in ("compare_indicators", "compare_differences", "compare_phases")
                for ext in ("png", "svg")]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A stand-in sweep result folder: a sweep's files, one fan chart and one indices table."""
    from defdip.figures.plotting import new_figure, save_figure
    from defdip.io.discovery_folder import SWEEP_FILES

    folder = tmp_path_factory.mktemp("sweep")
    for name in SWEEP_FILES:
        (folder / name).write_text("")
    fig = new_figure((4, 3))
    fig.add_subplot().fill_between([2010, 2035], [0, 1], [1, 2])
    save_figure(fig, folder / "fan_spi", ("png",))
    pd.DataFrame({"parameter": ["escalation rate", "trust building time"], "ST": [0.4, 0.1]}).to_csv(
        folder / "indices_sobol.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def every_scenario(tmp_path_factory, sweep_dir):
    """`defdip report scenarios/*.yaml --sweep DIR`: all shipped scenarios in one command."""
    out = tmp_path_factory.mktemp("compare") / "report"  # -o is the parent folder; report names its own
    files = sorted(str(p) for p in SCENARIOS.glob("*.yaml"))
    assert main(["report", *files, "-o", str(out.parent), "--sweep", str(sweep_dir)]) == 0
    return out, files


def test_every_shipped_scenario_compared_in_one_command(every_scenario):
    out, files = every_scenario
    for name in FIGURE_FILES + ["compare.csv", "report.html", "manifest.json"]:
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "compare.csv", index_col="scenario")
    assert len(table) == len(files) >= 10
    assert table.loc["baseline", "reference"] and table["reference"].sum() == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reference"] == "baseline" and len(manifest["runs"]) == len(files)
    assert set(manifest["files"]) >= set(FIGURE_FILES)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_report_is_self_contained(every_scenario):
    html = (every_scenario[0] / "report.html").read_text()
    sources = re.findall(r'<img[^>]+src="([^"]*)"', html)
    assert len(sources) == 6 and all(s.startswith("data:image/") for s in sources)
    dominance = html[html.index('id="section-dominance"'):html.index('id="section-sweep"')]
    # every loop the model file's .About names ("R1 reciprocity: ...", "B5 second supplier: ...")
    about = (ROOT / "models" / "iran_russia.mdl").read_text().split(".Control")[0]
    documented = re.findall(r"^\s*([RB]\d [^:\n]+):", about, flags=re.MULTILINE)
    assert len(documented) == 10  # R1-R5 and B1-B5
    for loop in documented:
        assert loop in dominance
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from a network
    assert "<link" not in html
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert "indices_sobol.csv" in html and "escalation rate" in html


def test_compare_prints_a_table_and_writes_no_report_unless_asked(tmp_path, capsys, run_scenario):
    files = [str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "no_war.yaml")]
    assert main(["compare", *files, "-o", str(tmp_path / "c"), "--vars", "reciprocity"]) == 0
    out = capsys.readouterr().out
    assert "baseline *" in out and "Reciprocity" in out and "no_war" in out
    assert not (tmp_path / "c" / "compare" / "report.html").exists()
    table = pd.read_csv(tmp_path / "c" / "compare" / "compare.csv", index_col="scenario")
    # Without the Ukraine war Russia never needs Iranian munitions: Iran->Russia stays 0, so
    # Reciprocity = 1 - |RI - 0| / RI = 0, and the difference is minus the baseline's own value
    # (from a PySD run of the baseline, the compare code not involved).
    assert table.loc["no_war", "Reciprocity 2025"] == 0
    own = run_scenario("baseline").trajectories.loc[2025.0, "Reciprocity"]
    assert own > 0.1  # the war made the flows two-sided by 2025
    assert table.loc["no_war", "Reciprocity 2025 diff"] == pytest.approx(-own, rel=1e-5)  # the csv keeps 6 digits


@pytest.mark.parametrize("inputs, options, message", [
    (["missing.yaml"], [], "missing.yaml: no such file or folder"),
    ([], ["--vars", "Reciprocty"], "did you mean 'Reciprocity'"),
    ([], ["--reference", "nope"], "--reference 'nope': not among the runs compared; allowed: baseline"),
    ([], ["--sweep", "no-such-dir"], "--sweep: only the HTML report"),
    ([], ["--html", "--sweep", "no-such-dir"], "--sweep no-such-dir: no such folder"),
    ([], ["--html", "--sweep", "."], "--sweep .: no samples.csv; is it the result folder of `defdip sweep`?"),
])
def test_bad_input_exits_2_and_names_the_argument(tmp_path, capsys, inputs, options, message):
    files = [str(SCENARIOS / "baseline.yaml")] + [str(tmp_path / name) for name in inputs]
    assert main(["compare", *files, "-o", str(tmp_path / "out"), *options]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_result_folder_is_refused(tmp_path, capsys):
    assert main(["compare", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "not a result folder" in capsys.readouterr().err


def test_existing_output_is_kept_without_force(every_scenario, capsys):
    out, _ = every_scenario
    before = (out / "compare.csv").read_bytes()
    assert main(["report", str(SCENARIOS / "baseline.yaml"), "-o", str(out.parent)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "compare.csv").read_bytes() == before


# --- the report in a real browser ------------------------------------------------------------------


def browser():
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        if os.environ.get("DEFDIP_REQUIRE_BROWSER") == "1":
            pytest.fail("DEFDIP_REQUIRE_BROWSER=1 but no Chromium binary found (apt-get install chromium)")
        pytest.skip("no Chromium binary found (apt-get install chromium); set DEFDIP_REQUIRE_BROWSER=1 to fail")
    return found


class DomReader(HTMLParser):
    """The body's data attributes and the ids of the sections in a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.body, self.ids, self.images = {}, set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        if tag == "img":
            self.images += 1
        if "id" in attrs:
            self.ids.add(attrs["id"])


def render(path, profile) -> DomReader:
    """Open ``path`` in headless Chromium, let the load script run, and read the resulting DOM."""
    done = subprocess.run([browser(), "--headless=new", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=5000", f"--user-data-dir={profile}", "--dump-dom",
                           path.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = DomReader()
    dom.feed(done.stdout)
    return dom


def test_report_renders_in_headless_chromium_with_every_image(every_scenario, tmp_path):
    dom = render(every_scenario[0] / "report.html", tmp_path / "profile")
    assert set(SECTIONS) <= dom.ids
    total, ok = int(dom.body["data-images-total"]), int(dom.body["data-images-ok"])
    assert total == dom.images == 6  # three comparison figures, structure, loop dominance, the sweep's chart
    assert ok == total


def test_the_browser_check_sees_a_broken_image(every_scenario, tmp_path):
    html = (every_scenario[0] / "report.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1))
    dom = render(broken, tmp_path / "profile")
    assert int(dom.body["data-images-ok"]) == int(dom.body["data-images-total"]) - 1
