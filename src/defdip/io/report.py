"""One self-contained HTML report of a comparison: it opens offline and can be mailed as is.

Every image is inlined as a base64 ``data:`` URI and the style sheet is inline, so the
file needs neither its folder nor a network. A short script counts, after loading, the
images the browser could decode and writes the counts into ``<body data-images-ok
data-images-total>`` so that a test (or a reader) can check nothing is broken.
"""
from __future__ import annotations

import base64
import html
import math
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from defdip import __version__
from defdip.analysis.dominance import dominance
from defdip.compare.text import metric_format
from defdip.core.errors import InputError
from defdip.core.scenario import load_scenario
from defdip.figures.dominance import write_dominance_figure
from defdip.figures.structure import write_structure_figure

SECTIONS = ("section-scenarios", "section-figures", "section-table", "section-timeline",
            "section-structure", "section-dominance", "section-sweep", "section-discovery")
MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0 auto;max-width:1300px;
 padding:1.5em 2em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
.meta{color:#555;font-size:.9em} .note{background:#fff4d6;border-left:4px solid #E69F00;padding:.5em 1em}
figure{margin:1em 0} figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{color:#444;font-size:.9em;margin-top:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right;vertical-align:top}
th{background:#f3f6f9} td.text,th.text{text-align:left} tr.ref td{font-weight:600}
.diff{color:#666;font-size:.9em} nav a{margin-right:1em} .wide{overflow-x:auto}
@media print{body{max-width:none;padding:0} h2{page-break-before:auto} figure{page-break-inside:avoid}}
"""
SCRIPT = """
window.addEventListener("load", function () {
  var images = document.images, ok = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { ok++; }
  }
  document.body.dataset.imagesOk = String(ok);
  document.body.dataset.imagesTotal = String(images.length);
});
"""
FIGURE_CAPTIONS = {
    "compare_indicators": "Each indicator for every scenario (the reference thick and black). Shading: the "
                          "reference's partnership phase. Dashed lines: dated events in the reference; dotted "
                          "lines in a scenario's colour: an event that scenario moves.",
    "compare_differences": "Each scenario minus the reference, per indicator: above zero the scenario is higher.",
    "compare_phases": "Partnership phase over time, one bar per scenario; the diamond marks the transition to a "
                      "strategic partnership (phase 3 held for the transition persistence).",
}


def data_uri(path: Path) -> str:
    """The file as a base64 ``data:`` URI (PNG, SVG or JPEG)."""
    path = Path(path)
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _figure(path: Path, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(path)}" alt="{html.escape(alt)}">{cap}</figure>'


def _fmt(value, fmt: str) -> str:
    """A table number in the format :func:`defdip.compare.text.metric_format` chose for its row."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return format(float(value), fmt)


def scenarios_html(comparison) -> str:
    """The runs: where each came from, its description, and the constants it sets unlike the reference."""
    reference = comparison.run(comparison.reference)
    rows = []
    for run in comparison.runs:
        changed = {k: v for k, v in run.constants.items() if reference.constants.get(k) != v}
        settings = "; ".join(f"{html.escape(k)} = {v:g} (reference {_ref_value(reference, k)})"
                             for k, v in sorted(changed.items())) or "&ndash;"
        label = html.escape(run.name) + (" <em>(reference)</em>" if run.name == comparison.reference else "")
        rows.append(f'<tr><td class="text">{label}</td><td class="text">{html.escape(run.description)}</td>'
                    f'<td class="text">{settings}</td><td class="text">{html.escape(run.kind)}: '
                    f'<code>{html.escape(str(run.source))}</code></td></tr>')
    head = ('<tr><th class="text">scenario</th><th class="text">description</th>'
            '<th class="text">constants unlike the reference</th><th class="text">from</th></tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _ref_value(run, name: str) -> str:
    value = run.constants.get(name)
    return "not set" if value is None else f"{value:g}"


def metrics_html(table: pd.DataFrame, reference: str) -> str:
    """The metrics table turned on its side: one row per metric, one column per scenario.

    Each cell shows the value and, in grey, its difference from the reference.
    """
    metrics = [c for c in table.columns if c != "reference" and not c.endswith(" diff")]
    head = "".join(f'<th>{html.escape(n)}{"<br><em>reference</em>" if n == reference else ""}</th>'
                   for n in table.index)
    rows = []
    for metric in metrics:
        fmt = metric_format(metric, table[metric])  # the row shares one format, as in the text table
        cells = []
        for name in table.index:
            value, diff = table.at[name, metric], table.at[name, f"{metric} diff"]
            extra = "" if name == reference else f' <span class="diff">({_signed(diff, fmt)})</span>'
            cells.append(f"<td>{_fmt(value, fmt)}{extra}</td>")
        rows.append(f'<tr><th class="text">{html.escape(metric.replace("_", " "))}</th>{"".join(cells)}</tr>')
    return f'<div class="wide"><table><tr><th class="text">metric</th>{head}</tr>{"".join(rows)}</table></div>'


def _signed(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return ("+" if value > 0 else "") + _fmt(value, fmt)


def sweep_html(sweep_dir: Path | None) -> str:
    """Every PNG in a sweep folder and its ``indices*.csv`` tables, or a note when none is given."""
    if sweep_dir is None:
        return "<p>No sweep folder was given (<code>--sweep DIR</code> adds a sweep's figures and indices).</p>"
    sweep_dir = Path(sweep_dir)
    parts = [f"<p>From <code>{html.escape(str(sweep_dir))}</code>.</p>"]
    images = sorted(sweep_dir.rglob("*.png"))
    parts += [_figure(p, p.stem, str(p.relative_to(sweep_dir))) for p in images]
    for csv in sorted(sweep_dir.rglob("indices*.csv")):
        table = pd.read_csv(csv)
        parts.append(f"<h3>{html.escape(str(csv.relative_to(sweep_dir)))}</h3>"
                     + '<div class="wide">' + table.to_html(index=False, float_format=lambda x: f"{x:.4g}",
                                                            border=0, na_rep="-") + "</div>")
    if len(parts) == 1:
        parts.append("<p>The folder holds no PNG figures and no indices*.csv tables.</p>")
    return "\n".join(parts)


def discovery_html(discovery_dir: Path | None) -> str:
    """A ``defdip discover`` folder: the condition, PRIM's box and CART's case leaves, and the figures."""
    import json

    if discovery_dir is None:
        return ("<p>No discovery folder was given (<code>--discovery DIR</code> adds the result of "
                "<code>defdip discover</code>).</p>")
    folder = Path(discovery_dir)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    first = summary.get("prim") or summary.get("cart") or {}
    method, scenario = html.escape(str(summary.get("sweep_method"))), html.escape(str(summary.get("scenario")))
    parts = [(f"<p>From <code>{html.escape(str(folder))}</code>: runs of the {method} sweep of "
              f"<strong>{scenario}</strong> where <code>{html.escape(summary['where'])}</code>: "
              f"{first.get('cases', 0):,} of {first.get('runs', 0):,} "
              f"({100 * first.get('share_of_cases', 0):.1f}%).</p>")]
    boxes = []
    if summary.get("prim"):
        boxes.append((f"PRIM box (step {summary['prim']['chosen_step']} of {summary['prim']['steps']})",
                      summary["prim"]["chosen_box"]))
    for leaf in (summary.get("cart") or {}).get("case_leaves", [])[:3]:
        boxes.append((f"CART leaf {leaf['step']}", leaf))
    for label, box in boxes:
        rows = "".join(f'<tr><td class="text">{html.escape(name)}</td><td>{_limit(lim["low"])}</td>'
                       f'<td>{_limit(lim["high"])}</td><td>{lim["range"][0]:.4g} to {lim["range"][1]:.4g}</td>'
                       f'<td>{_limit(lim["qp_low"], 2)}</td><td>{_limit(lim["qp_high"], 2)}</td></tr>'
                       for name, lim in box["limits"].items())
        parts.append(f"<h3>{html.escape(label)}: coverage {box['coverage']:.2f}, density {box['density']:.2f}, "
                     f"mass {box['mass']:.2f}</h3><table><tr><th class=\"text\">constant</th><th>at least</th>"
                     "<th>at most</th><th>sampled range</th><th>quasi-p (low)</th><th>quasi-p (high)</th></tr>"
                     f"{rows}</table>")
    captions = {"tradeoff": "PRIM's peeling and pasting trajectory: coverage against density, coloured by the "
                            "number of restricted constants; the reported box ringed.",
                "box_limits": "The reported boxes' limits against each constant's sampled range."}
    parts += [_figure(folder / f"{stem}.png", stem, caption) for stem, caption in captions.items()
              if (folder / f"{stem}.png").is_file()]
    return "\n".join(parts)


def _limit(value, digits: int = 4) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}g}"


def dominance_html(comparison, folder: Path) -> str:
    """Loop dominance of each run made from a scenario file: per documented loop, the share of saved
    times in which it dominates and its mean |relative score|; the reference's stacked areas."""
    runs = [run for run in comparison.runs if run.kind == "scenario" and Path(run.source).suffix == ".yaml"]
    if not runs:
        return "<p>No run here comes from a scenario file (result folders are not re-run).</p>"
    shares, figure = {}, ""
    for run in runs:
        try:
            result = dominance(load_scenario(run.source))
        except InputError as exc:
            return f"<p>Loop dominance was not computed: {html.escape(str(exc))}</p>"
        table = result.loop_table(0)
        named = table[[bool(n) for n in result.loops.named]].set_index("loop")
        shares[run.name] = named["share_dominant"]
        if run.name == comparison.reference or (not figure and run is runs[-1]):
            relative = {result.loops.ids[i]: result.relative_score[i, 0] for i in range(len(result.loops.ids))
                        if result.loops.named[i]}
            stem = Path(folder) / "dominance"
            write_dominance_figure(stem, result.time, relative, {k: k for k in relative},
                                   f"{run.name}: relative scores of the documented loops")
            figure = _figure(stem.with_suffix(".png"), "loop dominance",
                             f"{run.name}: relative loop scores of the documented loops (Loops That Matter); "
                             "reinforcing above zero, balancing below.")
    frame = pd.DataFrame(shares)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in frame.columns)
    rows = "".join(f'<tr><th class="text">{html.escape(loop)}</th>'
                   + "".join(f"<td>{value:.0%}</td>" for value in frame.loc[loop]) + "</tr>" for loop in frame.index)
    return ("<p>Share of saved times in which each documented loop belongs to the dominant loop set "
            "(<code>defdip dominance</code> gives every loop, link and period).</p>"
            f'<div class="wide"><table><tr><th class="text">loop</th>{head}</tr>{rows}</table></div>' + figure)


def structure_figure(model_path: Path, folder: Path) -> Path:
    """Draw the model's structure diagram as ``folder/structure.png``."""

    return write_structure_figure(model_path, Path(folder) / "structure.png")


def render_report(comparison, table: pd.DataFrame, figures: dict[str, Path], sweep_dir: Path | None = None,
                  structure: Path | None = None, title: str = "Scenario comparison",
                  discovery_dir: Path | None = None, dominance_section: str = "") -> str:
    """The report as one HTML string.

    Parameters
    ----------
    comparison : defdip.compare.gather.Comparison
    table : pandas.DataFrame
        From :func:`defdip.compare.gather.metrics_table`.
    figures : dict
        Figure stem -> PNG file (``compare_indicators``, ``compare_differences``, ``compare_phases``).
    sweep_dir : Path, optional
        A sweep's result folder; its PNGs and ``indices*.csv`` are embedded.
    structure : Path, optional
        The model structure diagram (PNG).
    discovery_dir : Path, optional
        A ``defdip discover`` result folder; its boxes and figures are embedded.
    dominance_section : str
        The loop-dominance section's HTML (:func:`dominance_html`).
    """

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in comparison.notes)
    compared = [f for f in ("compare_indicators", "compare_differences") if f in figures]
    reference = html.escape(comparison.reference)
    timeline = _figure(figures["compare_phases"], "compare_phases", FIGURE_CAPTIONS["compare_phases"]) \
        if "compare_phases" in figures else "<p>The runs have no partnership phase.</p>"
    diagram = _figure(structure, "model structure", f"Key structure and feedback loops of "
                      f"{comparison.runs[0].model.name}.") if structure else "<p>No model file to draw.</p>"
    body = {
        "section-scenarios": ("Scenarios", scenarios_html(comparison)),
        "section-figures": ("Indicators compared",
                            "".join(_figure(figures[f], f, FIGURE_CAPTIONS[f]) for f in compared)),
        "section-table": ("Metrics", f"<p>Per scenario, with the difference from <strong>{reference}</strong> in "
                          "brackets. Years in a phase are integrated time: each saved value holds until the next "
                          "save.</p>"
                          + metrics_html(table, comparison.reference)),
        "section-timeline": ("Phase timeline", timeline),
        "section-structure": ("Model structure", diagram),
        "section-dominance": ("Loop dominance", dominance_section or "<p>Not computed.</p>"),
        "section-sweep": ("Sensitivity sweep", sweep_html(sweep_dir)),
        "section-discovery": ("Scenario discovery", discovery_html(discovery_dir)),
    }
    nav = "".join(f'<a href="#{key}">{html.escape(heading)}</a>' for key, (heading, _) in body.items())
    sections = "\n".join(f'<section id="{key}"><h2>{html.escape(heading)}</h2>\n{content}</section>'
                         for key, (heading, content) in body.items())
    names = ", ".join(comparison.names)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
            f"<header><h1>{html.escape(title)}</h1><p class=\"meta\">{len(comparison.runs)} runs: "
            f"{html.escape(names)}; reference {html.escape(comparison.reference)}. Generated {stamp} by defdip "
            f"{html.escape(__version__)}.</p>{notes}<nav>{nav}</nav></header>\n{sections}\n"
            f"<script>{SCRIPT}</script>\n</body></html>\n")


def write_report(path: Path, comparison, table: pd.DataFrame, figures: dict[str, Path],
                 sweep_dir: Path | None = None, title: str = "Scenario comparison",
                 discovery_dir: Path | None = None) -> Path:
    """Draw the structure diagram and write the report to ``path``; returns ``path``."""
    with tempfile.TemporaryDirectory(prefix="defdip-report-") as tmp:
        model = Path(comparison.runs[0].model)
        structure = structure_figure(model, Path(tmp)) if model.is_file() else None
        text = render_report(comparison, table, figures, sweep_dir, structure, title, discovery_dir,
                             dominance_html(comparison, Path(tmp)))
        Path(path).write_text(text, encoding="utf-8")
    return Path(path)
