"""The explorer's charts in Bokeh: the panels of ``trajectories.png``, drawn to be redrawn.

Plotting only: runs come in as times and a mapping of variable -> values, nothing here runs a
model or knows about the page. Each chart keeps its glyphs on a few
:class:`bokeh.models.ColumnDataSource` objects, so a redraw replaces their data (one message to
the browser) instead of building figures again. The panels, thresholds, phase labels and colours
are those of :mod:`defdip.figures.plotting` and :mod:`defdip.core.case`.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import cycle

import numpy as np
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    HoverTool,
    Legend,
    LegendItem,
    Range1d,
    Span,
)
from bokeh.plotting import figure

from defdip.core.case import PHASE, PHASE_LABELS, THRESHOLDS
from defdip.figures.plotting import PALETTE, PHASE_COLOURS, coloured, phase_spans

FIGURE_HEIGHT = 230  # [px] per panel
SHADE_REACH = 1e12  # phase bands reach far beyond any data; the y range ignores them
PINNED_DASH = "dashed"
OVERLAY_DASH = "dotted"


def _line_data(time, data: Mapping, names) -> dict:
    out = {"time": np.asarray(time, float)}
    for name in names:
        out[name] = np.asarray(data[name], float) if name in data else np.full(len(out["time"]), np.nan)
    return out


def _span_data(time, phase) -> dict:
    if phase is None:
        return {"left": [], "right": [], "colour": [], "label": []}
    spans = phase_spans(time, phase)
    return {"left": [a for a, _, _ in spans], "right": [b for _, b, _ in spans],
            "colour": [PHASE_COLOURS.get(p, "white") for _, _, p in spans],
            "label": [PHASE_LABELS.get(p, str(p)) for _, _, p in spans]}


class TrajectoryCharts:
    """One Bokeh figure per panel: current run, band, pinned run, overlay, phases, thresholds.

    Parameters
    ----------
    panels : sequence of (title, names)
        As :func:`defdip.figures.plotting.trajectory_panels` gives them.
    time : array [Year]
        The saved times (fixes the x range).
    units : dict
        Variable -> units, for the y-axis labels.
    limits : dict
        Variable -> declared ``(low, high)``; a panel whose variables all have both gets
        that fixed scale, as in ``trajectories.png``.
    time_units : str
        The x-axis label.
    """

    def __init__(self, panels, time, units: Mapping, limits: Mapping, time_units: str = "Year"):
        time = np.asarray(time, float)
        self.panels = tuple((title, tuple(names)) for title, names in panels)
        self.names = tuple(n for _, names in self.panels for n in names)
        self.x_range = Range1d(float(time[0]), float(time[-1]))
        empty = _line_data(time, {}, self.names)
        self.current = ColumnDataSource(empty)
        self.pinned = ColumnDataSource(dict(empty))
        self.overlay = ColumnDataSource(dict(empty))
        self.band = ColumnDataSource({"time": time, **{f"{n} {q}": np.full(len(time), np.nan)
                                                       for n in self.names for q in ("low", "high")}})
        self.phases = ColumnDataSource(_span_data(time, None))
        self.transition_marks: list[Span] = []
        self.threshold_marks: dict[str, Span] = {}
        # the pinned and overlaid lines are added when first shown: until then their glyphs, views
        # and legend items (a quarter of the page's models) would only slow the page's start
        self.pinned_items: list[LegendItem] = []
        self.overlay_items: list[LegendItem] = []
        self.band_areas: list = []  # the band's areas, added with the first band
        self._lines: list[tuple] = []  # per panel: (figure, names, their current-run renderers, legend)
        self.figures = [self._panel(title, names, units, limits, time_units, last=i == len(self.panels) - 1)
                        for i, (title, names) in enumerate(self.panels)]

    def _panel(self, title: str, names, units: Mapping, limits: Mapping, time_units: str, last: bool):
        bounds = [limits.get(n) for n in names]
        fixed = bounds and all(b is not None and None not in b for b in bounds)
        y_range = DataRange1d(only_visible=True)
        if fixed:
            low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
            pad = 0.04 * (high - low)
            y_range = Range1d(low - pad, high + pad)
        unit = units.get(names[0], "")
        fig = figure(title=title, height=FIGURE_HEIGHT, sizing_mode="stretch_width", x_range=self.x_range,
                     y_range=y_range, tools="pan,box_zoom,wheel_zoom,reset,save", toolbar_location="above",
                     x_axis_label=time_units if last else None,
                     y_axis_label=unit if unit and unit != "Dmnl" else None, output_backend="canvas")
        fig.title.text_font_size = "11pt"
        fig.quad(left="left", right="right", bottom=-SHADE_REACH, top=SHADE_REACH, fill_color="colour",
                 line_width=0, source=self.phases, level="underlay")
        items, lines = [], []
        for colour, name in coloured(names):
            line = fig.line("time", name, source=self.current, color=colour, line_width=2.2)
            items.append(LegendItem(label=name, renderers=[line]))
            lines.append(line)
        if not fixed:
            y_range.renderers = list(lines)
        fig.add_tools(HoverTool(renderers=lines, tooltips=[("year", "@time{0.00}"), ("value", "$y{0.000}")],
                                mode="vline"))
        legend = Legend(items=items, location="top_left", label_text_font_size="9pt", spacing=0,
                        click_policy="hide")
        fig.add_layout(legend, "right")
        self._lines.append((fig, names, lines, legend))
        for constant, variable in THRESHOLDS.items():
            if variable in names:
                mark = Span(location=None, dimension="width", line_color="#595959", line_dash="dashed",
                            line_width=1)
                fig.add_layout(mark)
                self.threshold_marks[constant] = mark
        mark = Span(location=None, dimension="height", line_color="#000000", line_width=1.5,
                    line_dash="dotdash", visible=False)
        fig.add_layout(mark)
        self.transition_marks.append(mark)
        return fig

    def show_run(self, time, data: Mapping, thresholds: Mapping, transition: float | None) -> None:
        """Draw a run: its lines, phase shading, threshold lines and transition year."""
        self.current.data = _line_data(time, data, self.names)
        self.phases.data = _span_data(time, data.get(PHASE))
        for constant, mark in self.threshold_marks.items():
            mark.location = thresholds.get(constant)
        for mark in self.transition_marks:
            mark.visible = transition is not None
            mark.location = float(transition) if transition is not None else None

    def show_band(self, time, percentiles: Mapping) -> None:
        """Draw the 5-95 % band (``percentiles``: variable -> array (3, times))."""
        data = {"time": np.asarray(time, float)}
        for name in self.names:
            low_high = percentiles.get(name)
            nan = np.full(len(data["time"]), np.nan)
            data[f"{name} low"] = nan if low_high is None else np.asarray(low_high[0], float)
            data[f"{name} high"] = nan if low_high is None else np.asarray(low_high[-1], float)
        if percentiles and not self.band_areas:
            self._add_band_areas()
        self.band.data = data

    def _add_band_areas(self) -> None:
        """The band's areas in every panel, under the lines (added with the first band, as the
        pinned lines are: until a band exists they would only slow the page's start)."""
        for fig, names, lines, _ in self._lines:
            areas = [fig.varea(x="time", y1=f"{name} low", y2=f"{name} high", source=self.band, fill_color=colour,
                               fill_alpha=0.18) for colour, name in coloured(names)]
            kept = [r for r in fig.renderers if r not in areas]
            first = kept.index(lines[0])
            fig.renderers = kept[:first] + areas + kept[first:]
            _scale_to(fig, areas)
            self.band_areas.extend(areas)

    def show_pinned(self, time, data: Mapping | None) -> None:
        """Draw (or, with ``None``, clear) the pinned run, dashed."""
        self._other(self.pinned, self.pinned_items, "pinned", time, data)

    def show_overlay(self, time, data: Mapping | None) -> None:
        """Draw (or, with ``None``, clear) an overlaid run, dotted."""
        self._other(self.overlay, self.overlay_items, "overlay", time, data)

    def _other(self, source, items, kind: str, time, data) -> None:
        if data is not None and not items:
            items.extend(self._add_lines(source, kind))
        source.data = _line_data(time, data or {}, self.names)
        for item in items:
            item.visible = data is not None

    def _add_lines(self, source, kind: str) -> list[LegendItem]:
        """Lines of ``source`` in every panel, drawn under the current run's and listed after them."""
        style = {"pinned": {"line_width": 1.4, "line_alpha": 0.7, "line_dash": PINNED_DASH},
                 "overlay": {"line_width": 1.6, "line_alpha": 0.8, "line_dash": OVERLAY_DASH}}[kind]
        added = []
        for fig, names, lines, legend in self._lines:
            renderers, entries, made = list(fig.renderers), list(legend.items), []
            for colour, name, line in zip(cycle(PALETTE), names, lines):
                new = fig.line("time", name, source=source, color=colour, **style)
                renderers.insert(renderers.index(line), new)
                item = LegendItem(label=f"{name} ({kind})", renderers=[new], visible=False)
                entries.insert(entries.index(next(e for e in entries if line in e.renderers)) + 1, item)
                added.append(item)
                made.append(new)
            fig.renderers = renderers
            legend.items = entries
            _scale_to(fig, made)
        return added


def _scale_to(fig, renderers) -> None:
    """A panel whose y axis follows its data (no declared scale) follows ``renderers`` too."""
    if isinstance(fig.y_range, DataRange1d):
        fig.y_range.renderers = [*fig.y_range.renderers, *renderers]


class DifferenceCharts:
    """One figure per panel: the current run minus the pinned run, per variable."""

    def __init__(self, panels, time, units: Mapping, time_units: str = "Year"):
        time = np.asarray(time, float)
        self.panels = tuple((title, tuple(names)) for title, names in panels)
        self.names = tuple(n for _, names in self.panels for n in names)
        self.source = ColumnDataSource(_line_data(time, {}, self.names))
        x_range = Range1d(float(time[0]), float(time[-1]))
        self.figures = []
        for i, (title, names) in enumerate(self.panels):
            unit = units.get(names[0], "")
            fig = figure(title=f"{title}: current minus pinned", height=FIGURE_HEIGHT, sizing_mode="stretch_width",
                         x_range=x_range, tools="pan,box_zoom,wheel_zoom,reset,save", toolbar_location="above",
                         x_axis_label=time_units if i == len(self.panels) - 1 else None,
                         y_axis_label=unit if unit and unit != "Dmnl" else None)
            fig.add_layout(Span(location=0, dimension="width", line_color="#595959", line_width=1))
            items = [LegendItem(label=name, renderers=[fig.line("time", name, source=self.source, color=colour,
                                                                line_width=2)])
                     for colour, name in coloured(names)]
            fig.add_layout(Legend(items=items, location="top_left", label_text_font_size="9pt"), "right")
            self.figures.append(fig)

    def show(self, time, current: Mapping, pinned: Mapping | None) -> None:
        """Draw ``current - pinned`` on ``time`` (NaN everywhere without a pinned run)."""
        time = np.asarray(time, float)
        data = {"time": time}
        for name in self.names:
            if pinned is None or name not in current or name not in pinned:
                data[name] = np.full(len(time), np.nan)
            else:
                data[name] = np.asarray(current[name], float) - np.asarray(pinned[name], float)
        self.source.data = data


class DominanceChart:
    """Relative loop scores of the current run, one line per loop (Loops That Matter)."""

    def __init__(self, time, loops: int, time_units: str = "Year"):
        time = np.asarray(time, float)
        self.slots = [f"loop{i}" for i in range(loops)]
        self.source = ColumnDataSource({"time": time, **{s: np.full(len(time), np.nan) for s in self.slots}})
        self.figure = figure(title="Loop dominance: relative loop score of the current run (-1 to 1)",
                             height=FIGURE_HEIGHT + 90, sizing_mode="stretch_width",
                             x_range=Range1d(float(time[0]), float(time[-1])), y_range=Range1d(-1.05, 1.05),
                             x_axis_label=time_units, tools="pan,box_zoom,reset,save", toolbar_location="above")
        self.items = []
        for colour, slot in zip(PALETTE, self.slots):
            line = self.figure.line("time", slot, source=self.source, color=colour, line_width=2)
            self.items.append(LegendItem(label=slot, renderers=[line], visible=False))
        self.figure.add_layout(Span(location=0, dimension="width", line_color="#595959", line_width=1))
        self.figure.add_layout(Legend(items=self.items, location="top_left", label_text_font_size="9pt"), "right")

    def show(self, time, scores: Mapping) -> None:
        """Draw ``scores`` (loop label -> relative score per time); extra slots are hidden."""
        time = np.asarray(time, float)
        data = {"time": time}
        labels = list(scores)
        for i, slot in enumerate(self.slots):
            data[slot] = np.asarray(scores[labels[i]], float) if i < len(labels) else np.full(len(time), np.nan)
            self.items[i].label = {"value": labels[i]} if i < len(labels) else {"value": slot}
            self.items[i].visible = i < len(labels)
        self.source.data = data


def phase_key_html() -> str:
    """The phase colours as an HTML key (the shaded backgrounds)."""
    swatches = "".join(
        f'<span style="display:inline-block;width:14px;height:12px;background:{PHASE_COLOURS[p]};'
        f'border:1px solid #bbb;margin:0 4px 0 12px;vertical-align:middle"></span>{PHASE_LABELS[p]}'
        for p in PHASE_COLOURS)
    return f"<div style='font-size:12px'>phase (shaded):{swatches}</div>"
