"""The explorer's Bokeh charts: what each panel draws, and what pinning and overlays add."""
import numpy as np
import pytest

pytest.importorskip("bokeh")

from defdip.figures.explore_view import TrajectoryCharts  # noqa: E402

TIME = np.linspace(2010, 2035, 11)
PANELS = [("Arms", ("a", "b")), ("Indices", ("c",))]
LIMITS = {"c": (0, 1)}


def lines(fig):
    return [r for r in fig.renderers if r.glyph.__class__.__name__ == "Line"]


@pytest.fixture
def charts():
    return TrajectoryCharts(PANELS, TIME, {"a": "TIV/Year"}, LIMITS)


def test_a_panel_draws_the_current_run_and_lists_it(charts):
    charts.show_run(TIME, {"a": TIME * 0 + 1, "b": TIME * 0 + 2, "c": TIME * 0}, {}, None)
    arms, indices = charts.figures
    assert len(lines(arms)) == 2 and len(lines(indices)) == 1
    assert [i.label.value for i in arms.right[0].items] == ["a", "b"]
    np.testing.assert_array_equal(charts.current.data["b"], 2)


def test_pinning_adds_dashed_lines_under_the_current_ones_and_unpinning_hides_them(charts):
    charts.show_pinned(TIME, {"a": TIME, "b": TIME, "c": TIME * 0})
    arms = charts.figures[0]
    styles = [(r.data_source is charts.pinned, r.glyph.line_dash) for r in lines(arms)]
    assert styles == [(True, [6]), (False, []), (True, [6]), (False, [])]  # each under its current line
    labels = [(i.label.value, i.visible) for i in arms.right[0].items]
    assert labels == [("a", True), ("a (pinned)", True), ("b", True), ("b (pinned)", True)]
    assert set(charts.pinned_items[0].renderers) <= set(arms.y_range.renderers)  # the scale follows them
    np.testing.assert_array_equal(charts.pinned.data["a"], TIME)
    charts.show_pinned(TIME, None)
    assert not any(i.visible for i in charts.pinned_items) and np.isnan(charts.pinned.data["a"]).all()
    charts.show_pinned(TIME, {"a": TIME, "b": TIME, "c": TIME})
    assert len(lines(arms)) == 4  # pinning again reuses the lines


def test_an_overlay_is_dotted_and_independent_of_the_pinned_run(charts):
    charts.show_overlay(TIME, {"a": TIME, "c": TIME * 0})
    indices = charts.figures[1]
    assert [r.glyph.line_dash for r in lines(indices)] == [[2, 4], []]
    assert not charts.pinned_items and len(charts.overlay_items) == 3
    assert np.isnan(charts.overlay.data["b"]).all()  # a variable the overlay lacks is not drawn


def test_the_band_is_drawn_under_the_lines_once_it_exists(charts):
    arms = charts.figures[0]
    assert not charts.band_areas
    charts.show_band(TIME, {"a": np.stack([TIME * 0, TIME * 0 + 1, TIME * 0 + 2])})
    kinds = [r.glyph.__class__.__name__ for r in arms.renderers]
    assert kinds == ["Quad", "VArea", "VArea", "Line", "Line"]  # phases, band, then the current run
    assert set(charts.band_areas[:2]) <= set(arms.y_range.renderers)
    np.testing.assert_array_equal(charts.band.data["a high"], 2)
    assert np.isnan(charts.band.data["b low"]).all()
    charts.show_band(TIME, {"a": np.stack([TIME, TIME, TIME])})
    assert len(charts.band_areas) == 3  # a new band reuses the areas


def test_a_panel_of_a_large_array_draws_every_element():
    names = tuple(f"x[e{i}]" for i in range(11))  # more elements than the palette has colours
    charts = TrajectoryCharts([("x", names)], TIME, {}, {})
    (fig,) = charts.figures
    assert [i.label.value for i in fig.right[0].items] == list(names) and len(lines(fig)) == 11
    charts.show_pinned(TIME, {n: TIME for n in names})
    assert len(lines(fig)) == 22
