"""Run figures: panels, data filled into a prepared frame, files written, the worker process."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from defdip.core.case import PHASE, THRESHOLDS
from defdip.figures.plotting import (
    figure_trajectories,
    fill_trajectories,
    phase_spans,
    save_figure,
    trajectory_frame,
    trajectory_panels,
)
from defdip.figures.render import Renderer, RunFigure, draw_run_figure, prepare_run_figure

TIME = np.linspace(2010, 2035, 101)


def synthetic() -> dict:
    ramp = np.linspace(0, 1, len(TIME))
    return {"Arms Transfers Russia to Iran": 100 * ramp, "Arms Transfers Iran to Russia": 50 * ramp[::-1],
            "Cooperation Depth": ramp, "Reciprocity": ramp ** 2, "Strategic Partnership Index": ramp / 2,
            "Strategic Commitment": 0.8 * ramp,
            "Mutual Trust": ramp, PHASE: np.where(TIME < 2022, 1, np.where(TIME < 2028, 2, 3)).astype(float)}


def test_panels_group_the_key_indicators():
    panels = dict(trajectory_panels(synthetic()))
    assert panels["Arms transfers"] == ("Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia")
    assert panels["Relational stocks"] == ("Mutual Trust",)  # absent variables are left out


def test_other_models_show_their_outputs():
    panels = trajectory_panels({"Teacup Temperature": 1, "Room Temperature": 2}, outputs=("Room Temperature",))
    assert panels == [("Room Temperature", ("Room Temperature",))]


def test_frame_then_fill_equals_one_call():
    data = synthetic()
    whole = figure_trajectories(TIME, data, "t", constants={"strategic threshold": 0.7})
    staged = fill_trajectories(trajectory_frame(TIME, list(data), "t", constants={"strategic threshold": 0.7}),
                               TIME, data)
    for a, b in zip(whole.axes, staged.axes):
        assert a.get_ylim() == pytest.approx(b.get_ylim())
        for la, lb in zip(a.get_lines(), b.get_lines()):
            np.testing.assert_array_equal(la.get_ydata(), lb.get_ydata())


def test_frame_has_no_data_until_filled():
    fig = trajectory_frame(TIME, list(synthetic()), "t")
    assert all(np.isnan(line.get_ydata()).all() for ax in fig.axes for line in ax.get_lines()
               if line.get_label() in synthetic())


def test_phases_shaded_and_threshold_drawn():
    constants = {"strategic threshold": 0.7, "two sided threshold": 0.3}
    fig = figure_trajectories(TIME, synthetic(), "t", constants=constants)
    indices = next(ax for ax in fig.axes if ax.get_title(loc="left") == "Partnership indices")
    (bands,) = indices.collections
    assert len(bands.get_paths()) == 3  # one band per phase
    assert "Strategic Commitment" in [line.get_label() for line in indices.get_lines()]
    assert any(np.allclose(line.get_ydata(), 0.7) for line in indices.get_lines())
    assert any(np.allclose(line.get_ydata(), 0.3) for line in indices.get_lines())
    # the strategic threshold belongs to Strategic Commitment: without it, it is not drawn
    assert THRESHOLDS["strategic threshold"] == "Strategic Commitment"
    data = {k: v for k, v in synthetic().items() if k != "Strategic Commitment"}
    fig = figure_trajectories(TIME, data, "t", constants=constants)
    indices = next(ax for ax in fig.axes if ax.get_title(loc="left") == "Partnership indices")
    assert not any(np.allclose(line.get_ydata(), 0.7) for line in indices.get_lines())
    assert any(np.allclose(line.get_ydata(), 0.3) for line in indices.get_lines())


def test_phase_spans_cover_the_run():
    spans = phase_spans(TIME, synthetic()[PHASE])
    assert [p for _, _, p in spans] == [1, 2, 3]
    assert spans[0][0] == TIME[0] and spans[-1][1] == TIME[-1]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_time_axis_takes_the_models_unit():
    fig = figure_trajectories(np.arange(5.0), {"Stock": np.arange(5.0)}, "t", units={"INITIAL TIME": "Minute"})
    assert fig.axes[-1].get_xlabel() == "Minute"


def test_save_figure_writes_png_and_svg(tmp_path):
    save_figure(figure_trajectories(TIME, synthetic(), "t"), tmp_path / "fig")
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "fig.svg").read_text()


@pytest.mark.parametrize("background", [True, False])
def test_renderer_writes_both_files(tmp_path, background):
    data = synthetic()
    with Renderer(background=background) as renderer:
        renderer.prepare("run", TIME, RunFigure(tuple(data), "title"))
        renderer.submit(tmp_path / "trajectories", TIME, data, RunFigure(tuple(data), "title"), key="run").result()
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000
    assert (tmp_path / "trajectories.svg").stat().st_size > 10_000


def test_a_failed_drawing_is_raised_by_the_future(tmp_path):
    data = synthetic()
    data["Cooperation Depth"] = data["Cooperation Depth"][:5]  # wrong length
    with Renderer() as renderer:
        future = renderer.submit(tmp_path / "trajectories", TIME, data, RunFigure(tuple(data), "title"))
        # numpy's broadcasting error from inside the drawing, raised unchanged in this process
        with pytest.raises(ValueError, match=r"shape mismatch: .* arg 0 with shape \(101,\) and arg 1 with shape \(5,\)"):
            future.result()
    assert not (tmp_path / "trajectories.png").exists()


@pytest.mark.parametrize("limits", [{}, {n: (0.0, 1.0) for n in synthetic() if n != PHASE and "Arms" not in n}],
                         ids=["all-autoscaled", "fixed-index-panels"])
def test_prepared_and_forked_figure_looks_like_a_plain_one(tmp_path, limits):
    """The PNG composed from prepared pixels (blitting) shows what a full drawing shows."""
    from matplotlib.image import imread

    data = synthetic()
    spec = RunFigure(tuple(data), "title", limits=limits)
    prepare_run_figure("k", TIME, spec)
    draw_run_figure(tmp_path / "blit", TIME, data, spec, fork=True, key="k")
    draw_run_figure(tmp_path / "plain", TIME, data, spec)
    blit, plain = imread(tmp_path / "blit.png"), imread(tmp_path / "plain.png")
    blit, plain = blit[..., :3], plain[..., :3]  # the composed PNG is RGB, matplotlib's RGBA
    assert blit.shape == plain.shape
    assert np.mean(np.abs(blit - plain) > 0.1) < 0.002  # a few edge pixels may differ, no more
    assert (tmp_path / "blit.svg").read_text().count("<path") > 10


def test_a_subscripted_variable_is_one_panel_with_a_line_per_element():
    data = {"Stock[a]": 1, "Stock[b]": 2, "rate": 3, "Flow[a,x]": 4, "Flow[a,y]": 5}
    assert trajectory_panels(data) == [("Stock", ("Stock[a]", "Stock[b]")), ("rate", ("rate",)),
                                       ("Flow", ("Flow[a,x]", "Flow[a,y]"))]
    assert trajectory_panels(data, outputs=("Flow", "rate")) == [("Flow", ("Flow[a,x]", "Flow[a,y]")),
                                                                 ("rate", ("rate",))]
    assert trajectory_panels(data, outputs=("Stock[b]",)) == [("Stock", ("Stock[b]",))]  # one element listed
    many = {f"x[e{i}]": i for i in range(12)}
    fig = figure_trajectories(TIME, {n: TIME * 0 + v for n, v in many.items()}, "t")
    assert len(fig.axes[0].get_lines()) == 12  # more elements than colours: the palette repeats
