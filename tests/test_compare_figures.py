"""Comparison figures: consistent styles, units on the axes, legends clear of the data, files written."""
import numpy as np
import pytest
from matplotlib.colors import to_hex

from defdip.analysis.phases import summary_of
from defdip.compare.gather import build_comparison, from_result
from defdip.figures.compare import (
    FIGURES,
    REFERENCE_COLOUR,
    comparison_figures,
    event_labels,
    figure_phase_timeline,
    figure_small_multiples,
    run_styles,
)
from defdip.figures.plotting import PHASE_COLOURS, save_figure

NAMES = [f"run{i}" for i in range(10)]


def test_styles_are_distinct_stable_and_black_for_the_reference():
    styles = run_styles(NAMES, reference="run3")
    assert styles == run_styles(NAMES, reference="run3")
    assert styles["run3"]["color"] == REFERENCE_COLOUR
    pairs = {(s["color"], str(s["linestyle"])) for s in styles.values()}
    assert len(pairs) == len(NAMES)
    assert "#F0E442" not in {s["color"] for s in styles.values()}  # yellow does not print


def test_close_events_share_one_label():
    events = [{"label": "treaty", "year": 2025.75, "runs": ["a"], "reference": True},
              {"label": "snapback", "year": 2025.74, "runs": ["a"], "reference": True},
              {"label": "war", "year": 2022.15, "runs": ["a"], "reference": True},
              {"label": "war", "year": 2022.3, "runs": ["b"], "reference": False}]
    labels = event_labels(events, run_styles(["a", "b"], "a"))
    texts = [t for _, t, _ in labels]
    assert texts == ["war", "war (b)", "snapback / treaty"]


# The baseline never reaches phase 3. With these settings (each within its declared range)
# commitment passes a threshold at the low end of its range: Russia's other interests hold nothing
# back and shared isolation counts five times. The run gives the timeline a transition to mark.
COMMITTED = {"divergence effect": 0, "cw isolation": 5, "strategic threshold": 0.5}


@pytest.fixture(scope="module")
def comparison(run_scenario):
    runs = [run_scenario("baseline"), run_scenario("baseline", **{"war start year": 2024}),
            run_scenario("no_war"), run_scenario("baseline", **COMMITTED)]
    runs = [from_result(r, summary_of(r)) for r in runs]
    runs[1] = type(runs[1])(**{**runs[1].__dict__, "name": "late_war"})
    runs[3] = type(runs[3])(**{**runs[3].__dict__, "name": "committed"})
    return build_comparison(runs, variables=["Cooperation Depth", "Arms Transfers Iran to Russia",
                                             "Partnership Phase"])


def _data(comparison):
    return {v: {n: c.to_numpy() for n, c in comparison.frame(v).items()} for v in comparison.variables}


def test_small_multiples_one_panel_per_indicator_with_units_and_legend_outside(comparison):
    styles = run_styles(comparison.names, comparison.reference)
    fig = figure_small_multiples(comparison.time, _data(comparison), comparison.units, styles, "baseline")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    labels = [ax.get_ylabel() for ax in axes]
    assert labels[0] == "Cooperation Depth [Dmnl]" and labels[1].startswith("Arms Transfers Iran to Russia [")
    assert "[Dmnl]" not in labels[1]
    for ax in axes:
        colours = {to_hex(line.get_color()) for line in ax.get_lines() if len(line.get_xdata()) > 2}
        assert colours == {to_hex(s["color"]) for s in styles.values()}  # one line per run, its own colour
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    data_right = max(ax.get_window_extent(renderer).x1 for ax in axes)
    assert fig.legends and all(leg.get_window_extent(renderer).x0 >= data_right for leg in fig.legends)


def test_moved_event_is_drawn_in_the_runs_colour(comparison):
    figures = comparison_figures(comparison)
    ax = figures["compare_indicators"].axes[0]
    colour = to_hex(run_styles(comparison.names, comparison.reference)["late_war"]["color"])
    verticals = {(round(float(line.get_xdata()[0]), 2), to_hex(line.get_color())) for line in ax.get_lines()
                 if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]}
    assert (2024.0, colour) in verticals
    assert any(year == 2022.15 for year, _ in verticals)
    assert not any(year > 2035 for year, _ in verticals)


def test_phase_timeline_one_bar_per_run_and_transition_marked(comparison):
    phases = {r.name: r.trajectories["Partnership Phase"].to_numpy() for r in comparison.runs}
    transitions = {r.name: r.summary["transition_year"] for r in comparison.runs}
    assert transitions["no_war"] is None and transitions["baseline"] is None  # the partnership stays tactical
    assert transitions["committed"] is not None
    fig = figure_phase_timeline(comparison.time, phases, transitions,
                                run_styles(comparison.names, comparison.reference), "baseline")
    ax = fig.axes[0]
    bars = [c for c in ax.collections if len(c.get_paths())]
    assert len(bars) == len(comparison.runs)
    colours = [{to_hex(c) for c in bar.get_facecolors()} for bar in bars]  # in the order of the runs
    # each bar shows the phases its run passes through, read from the run itself
    for run, shown in zip(comparison.runs, colours):
        held = {int(p) for p in np.rint(run.trajectories["Partnership Phase"].to_numpy())}
        assert shown == {to_hex(PHASE_COLOURS[p]) for p in held}, run.name
    assert to_hex(PHASE_COLOURS[3]) in colours[3] and to_hex(PHASE_COLOURS[3]) not in colours[0]
    assert colours[2] == {to_hex(PHASE_COLOURS[1])}  # no war stays in phase 1
    diamonds = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert sorted(float(d.get_xdata()[0]) for d in diamonds) == sorted(
        t for t in transitions.values() if t is not None)
    assert [t.get_text() for t in ax.get_yticklabels()][::-1][0] == "baseline (reference)"


def test_comparison_figures_are_written_as_png_and_svg(comparison, tmp_path):
    figures = comparison_figures(comparison)
    assert set(figures) == set(FIGURES)
    for stem, fig in figures.items():
        save_figure(fig, tmp_path / stem)
        for suffix in (".png", ".svg"):
            assert (tmp_path / f"{stem}{suffix}").stat().st_size > 10_000
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "compare_indicators.png")
    assert image.shape[1] > 600 and np.std(image) > 0.05  # not blank
