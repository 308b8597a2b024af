"""``defdip explore``: the page and its server (Panel on Bokeh), on 127.0.0.1 only.

A session is one :class:`ExplorerPage`: a slider, a typed value and a reset per constant of the
scenario, per element of a subscripted one under the constant's name
(:func:`defdip.io.explore_state.controls_for`), the charts of
:mod:`defdip.figures.explore_view`, and the buttons to pin, overlay and save. Every change re-runs
the model with the compiled engine, in the worker process of :mod:`defdip.io.explore_workers`,
and redraws; the uncertainty band and the loop-dominance panel come from the same worker, asked
from a thread of the session once the changes pause, and are drawn when ready unless a newer
change has made them stale. Panel is imported at the top: this module is only imported by the
command, after it has checked that the ``explore`` extra is installed.
"""
from __future__ import annotations

import html
import re
import signal
import socket
import time as _time
import webbrowser
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import ClassVar

import panel as pn

from defdip.core.case import PHASE
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.scenario import Scenario
from defdip.figures.explore_view import (
    DifferenceCharts,
    DominanceChart,
    TrajectoryCharts,
    phase_key_html,
)
from defdip.io.explore_state import (
    BAND_RUNS,
    DOMINANCE_LOOPS,
    Control,
    Settings,
    chart_panels,
    controls_for,
    grouped,
    key_numbers,
    load_overlay,
    loop_dominance,
    run_once,
    save_error,
    save_figure_files,
    save_scenario,
    shipped_names,
    uncertainty_band,
)
from defdip.io.explore_workers import WORKERS, warm_up
from defdip.io.pipeline import figure_spec

HOST = "127.0.0.1"  # never another interface: the page can write files
BAND_DELAY = 0.3  # [s] the band waits this long for further changes: while a slider is dragged it would
# only compete with the redraws for the two cores, and be stale when done
SHOWN_KEYS = ("Strategic Partnership Index", "Cooperation Depth", "Reciprocity")
SHOWN_YEARS = ("2025", "2030", "2035")
SHOWN_FINAL = 12  # a model without those indicators: its first charted columns' last values
NO_OVERLAY = "(none)"
CSS = """
.dd-msg-error {color:#9b1c1c;background:#fde8e8;border:1px solid #f5b5b5;padding:6px 10px;border-radius:4px}
.dd-msg-ok {color:#03543f;background:#def7ec;border:1px solid #a3e2c7;padding:6px 10px;border-radius:4px}
.dd-keys td, .dd-keys th {padding:1px 8px;font-size:12px;text-align:right}
.dd-keys th:first-child, .dd-keys td:first-child {text-align:left}
.dd-array {font-size:12px;font-weight:600;margin:6px 0 0 4px}
"""


@dataclass(frozen=True)
class ExploreConfig:
    """What every session of the explorer starts from.

    Attributes
    ----------
    scenario : Scenario
        The starting scenario.
    save_dir : Path
        The one folder the page writes into (scenario files and figures).
    band_runs : int
        Runs in the uncertainty band.
    seed : int
        Seed of the band's Latin hypercube.
    dominance : bool
        Show the loop-dominance panel.
    pool : Executor or None
        Where runs, bands and loop scores are computed
        (:func:`defdip.io.explore_workers.worker_pool`); ``None``
        computes them in the session's own threads (a test building a page without a server).
    """

    scenario: Scenario
    save_dir: Path
    band_runs: int = BAND_RUNS
    seed: int = 0
    dominance: bool = True
    pool: Executor | None = None


def final_columns(info, charted) -> tuple[str, ...]:
    """The key numbers of a model without the project's indicators: the first charted columns
    that are not constants (an element is one), at the last saved time."""
    constants = {c for v in info.constants.values() for c in v.columns}
    return tuple(n for n in charted if n not in constants)[:SHOWN_FINAL]


def array_heading(array: str, controls) -> pn.pane.HTML:
    """The sub-heading over a subscripted constant's element controls: its name, units, elements."""
    units = controls[0].units
    unit = f" [{html.escape(units)}]" if units and units != "Dmnl" else ""
    return pn.pane.HTML(f"<div class='dd-array dd-array-{slug(array)}'>{html.escape(array)}{unit}: "
                        f"{len(controls)} elements</div>", margin=(2, 4), sizing_mode="stretch_width")


def slug(name: str) -> str:
    """A CSS class for a constant's widgets: ``war end year`` -> ``war-end-year``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def fmt(x) -> str:
    """A number as typed in the page (``2025``, ``0.5``), ``none`` for no value."""
    return "none" if x is None else f"{float(x):.6g}"


class LiveSlider(pn.widgets.FloatSlider):
    """A float slider whose moves reach the server callback at once.

    Panel holds the first of a burst of changes from the browser for 50 ms (``Syncable._debounce``)
    to merge the burst; a third of the 150 ms budget from a key press to the redrawn charts. The
    page merges bursts itself (a redraw draws only the latest run; the band waits ``BAND_DELAY``),
    so the slider's ``value`` is a priority change, the class attribute Panel's own ``Tabulator``
    uses for its edits. Panel has no public setting for it; ``tests/test_explore.py``
    fails if the attribute stops being read.
    """

    _priority_changes: ClassVar[list[str]] = ["value"]


class ControlWidgets:
    """A constant's typed value (titled, the source comment as its tooltip), slider and reset."""

    def __init__(self, control: Control):
        self.control = control
        css = slug(control.name)
        note = "" if control.declared else " (The model declares no range: the slider spans 0 to twice the value.)"
        self.text = pn.widgets.TextInput(name=control.label, value=fmt(control.start), placeholder=control.name,
                                         description=(control.comment or "no documentation in the model") + note,
                                         width=250, css_classes=["dd-input", f"dd-input-{css}"], margin=(2, 4))
        low, high = control.span
        self.slider = LiveSlider(
            start=low, end=high, step=control.step, value=control.start, show_value=False,
            css_classes=["dd-slider", f"dd-slider-{css}"], width=120, margin=(24, 4, 0, 4))
        self.reset = pn.widgets.Button(name="\u21ba", width=34,
                                       css_classes=["dd-reset", f"dd-reset-{css}"], margin=(20, 2, 0, 2))
        self.row = pn.Row(self.text, self.slider, self.reset)


class ExplorerPage:
    """One browser session of the explorer."""

    def __init__(self, config: ExploreConfig):
        self.config = config
        self.settings = Settings(config.scenario)
        self.doc = pn.state.curdoc
        self.version = 0  # counts changes; the band and dominance draw only for the latest one
        self.pinned = None
        self.overlay = None
        self.busy = False  # set while a callback moves widgets itself
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="defdip-band")
        self.closed = False  # set when the tab goes away: nothing more is sent to it
        self.connected = False  # set once a browser has connected to the session
        self.run = self._run(self.settings.scenario)
        scenario = self.settings.scenario
        info = model_info(scenario.model)
        spec = figure_spec(scenario)
        units, limits = spec.units, spec.limits
        time_units = info.resolve("INITIAL TIME").units or "Year"
        panels = chart_panels(scenario)
        self.charts = TrajectoryCharts(panels, self.run.time, units, limits, time_units)
        # the other tabs' charts are built when first shown: a Bokeh figure costs a tenth of a second
        self._chart_args = (panels, self.run.time, units, time_units)
        self.differences: DifferenceCharts | None = None
        self.loops: DominanceChart | None = None
        self.scores = None  # the latest loop scores, drawn when the tab is built
        self.final = () if any(n in self.run.data for n in SHOWN_KEYS) else final_columns(info, self.charts.names)
        self.groups = grouped(controls_for(scenario))
        self.widgets: dict[str, ControlWidgets] = {}  # built when their group is first opened
        self.layout_cards: dict = {}  # group -> its card
        self._panes()
        self._wire()
        self._redraw(first=True)

    # --- building --------------------------------------------------------------------------------
    def _panes(self) -> None:
        base = self.settings.base
        self.message = pn.pane.HTML("", css_classes=["dd-message"], sizing_mode="stretch_width", margin=(0, 5))
        self.keys = pn.pane.HTML("", css_classes=["dd-keys"], sizing_mode="stretch_width")
        self.band_status = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 5))
        self.loop_status = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 5))
        self.reset_all = pn.widgets.Button(name="Reset all", button_type="warning", css_classes=["dd-reset-all"])
        self.pin = pn.widgets.Button(name="Pin current run", css_classes=["dd-pin"])
        self.unpin = pn.widgets.Button(name="Unpin", css_classes=["dd-unpin"])
        self.overlay_choice = pn.widgets.Select(name="Overlay a shipped scenario",
                                                options=[NO_OVERLAY, *shipped_names()], css_classes=["dd-overlay"])
        self.overlay_path = pn.widgets.TextInput(name="or a scenario file / result folder",
                                                 placeholder="path, then Enter", css_classes=["dd-overlay-path"])
        self.save_name = pn.widgets.TextInput(name=f"Save into {self.config.save_dir}", value=f"{base.name}_explored",
                                              placeholder="file name", css_classes=["dd-save-name"])
        self.overwrite = pn.widgets.Checkbox(name="overwrite an existing file", css_classes=["dd-overwrite"])
        self.save_yaml = pn.widgets.Button(name="Save scenario (.yaml)", button_type="primary",
                                           css_classes=["dd-save-yaml"])
        self.save_fig = pn.widgets.Button(name="Save figure (.png, .svg)", css_classes=["dd-save-figure"])

    def _build_group(self, name: str) -> list:
        """The rows of one group's controls, built and wired (a Panel widget costs milliseconds).

        The elements of a subscripted constant follow each other under its name.
        """
        rows = []
        for array, controls in groupby(self.groups[name], key=lambda c: c.array):
            controls = list(controls)
            if array:
                rows.append(array_heading(array, controls))
            rows.extend(self._build_control(c) for c in controls)
        return rows

    def _build_control(self, control: Control):
        """One control's row, showing a value changed before its group was opened, wired."""
        widgets = ControlWidgets(control)
        value = self.settings.changed.get(control.name)
        if value is not None:
            self._sync(widgets, value)
        widgets.slider.param.watch(partial(self._on_slider, widgets), "value")
        widgets.text.param.watch(partial(self._on_text, widgets), "value")
        widgets.reset.on_click(partial(self._on_reset, widgets))
        self.widgets[control.name] = widgets
        return widgets.row

    def _group_card(self, name: str, opened: bool):
        card = pn.Card(title=f"{name} ({len(self.groups[name])})", collapsed=not opened, width=440,
                       css_classes=["dd-group", f"dd-group-{slug(name)}"], margin=(2, 0))
        self.layout_cards[name] = card
        if opened:
            card.objects = self._build_group(name)
        else:
            card.param.watch(partial(self._on_open, name, card), "collapsed")
        return card

    def _on_open(self, name: str, card, event) -> None:
        if not event.new and not card.objects:
            card.objects = self._build_group(name)

    def _wire(self) -> None:
        self.reset_all.on_click(self._on_reset_all)
        self.pin.on_click(self._on_pin)
        self.unpin.on_click(self._on_unpin)
        self.overlay_choice.param.watch(self._on_overlay_choice, "value")
        self.overlay_path.param.watch(self._on_overlay_path, "value")
        self.save_yaml.on_click(self._on_save_yaml)
        self.save_fig.on_click(self._on_save_figure)

    def layout(self):
        """The page: controls on the left, charts and tools on the right."""
        cards = [self._group_card(name, opened=i == 0) for i, name in enumerate(self.groups)]
        base = self.settings.base
        header = pn.pane.HTML(
            f"<h2 style='margin:4px 0'>defdip explore: {html.escape(base.name)}</h2>"
            f"<div style='font-size:12px;color:#444'>{html.escape(base.description)}</div>",
            sizing_mode="stretch_width")
        controls = pn.Column(self.reset_all, *cards, width=460, scroll=True, height=900)
        self.difference_tab = pn.Column(sizing_mode="stretch_width")
        self.loop_tab = pn.Column(self.loop_status, sizing_mode="stretch_width")
        tabs = [("Trajectories", pn.Column(*[pn.pane.Bokeh(f, sizing_mode="stretch_width")
                                             for f in self.charts.figures],
                                           pn.pane.HTML(phase_key_html()), self.band_status,
                                           sizing_mode="stretch_width")),
                ("Difference from pinned", self.difference_tab)]
        if self.config.dominance:
            tabs.append(("Loop dominance", self.loop_tab))
        self.tabs = pn.Tabs(*tabs, dynamic=True, sizing_mode="stretch_width", css_classes=["dd-tabs"])
        self.tabs.param.watch(self._on_tab, "active")
        tools = pn.Row(pn.Column(pn.Row(self.pin, self.unpin), self.overlay_choice, self.overlay_path),
                       pn.Column(self.save_name, self.overwrite, pn.Row(self.save_yaml, self.save_fig)),
                       sizing_mode="stretch_width")
        right = pn.Column(header, self.message, self.keys, tools, self.tabs, sizing_mode="stretch_width")
        return pn.Row(controls, right, sizing_mode="stretch_width")

    def _on_tab(self, event) -> None:
        panels, time, units, time_units = self._chart_args
        if event.new == 1 and self.differences is None:
            self.differences = DifferenceCharts(panels, time, units, time_units)
            self._redraw_differences()
            self.difference_tab.objects = [pn.pane.Bokeh(f, sizing_mode="stretch_width")
                                           for f in self.differences.figures]
        if event.new == 2 and self.loops is None:
            self.loops = DominanceChart(time, DOMINANCE_LOOPS, time_units)
            if self.scores is not None:
                self.loops.show(self.scores.time, self.scores.scores)
            self.loop_tab.objects = [pn.pane.Bokeh(self.loops.figure, sizing_mode="stretch_width"),
                                     self.loop_status]

    # --- callbacks -------------------------------------------------------------------------------
    def _on_slider(self, widgets: ControlWidgets, event) -> None:
        if self.busy:
            return
        self._change(widgets, event.new)

    def _on_text(self, widgets: ControlWidgets, event) -> None:
        if self.busy or event.new == fmt(widgets.slider.value):
            return
        self._change(widgets, event.new)

    def _change(self, widgets: ControlWidgets, value) -> None:
        """Apply a value (number from the slider, text typed), or refuse it with the CLI's message."""
        try:
            kept = self.settings.set(widgets.control.name, value)
        except InputError as exc:
            self._show_message(str(exc), error=True)
            self._sync(widgets, widgets.slider.value)  # the typed text goes back to the value in force
            return
        self._sync(widgets, kept)
        self._show_message("")
        self._rerun()

    def _sync(self, widgets: ControlWidgets, value: float) -> None:
        self.busy = True
        try:
            slider = widgets.slider  # a constant without a declared range takes any number: widen to it
            slider.start, slider.end = min(slider.start, value), max(slider.end, value)
            widgets.slider.value = value
            widgets.text.value = fmt(value)
        finally:
            self.busy = False

    def _on_reset(self, widgets: ControlWidgets, _event=None) -> None:
        self.settings.reset(widgets.control.name)
        self._sync(widgets, widgets.control.start)
        self._show_message("")
        self._rerun()

    def _on_reset_all(self, _event=None) -> None:
        self.settings.reset()
        for widgets in self.widgets.values():
            self._sync(widgets, widgets.control.start)
        self._show_message("")
        self._rerun()

    def _on_pin(self, _event=None) -> None:
        self.pinned = self.run
        self._locked(self.charts.show_pinned, self.run.time, self.run.data)
        self._locked(self._redraw_differences)
        self._show_message(f"pinned the current run ({self._changes_text()})", error=False)

    def _on_unpin(self, _event=None) -> None:
        self.pinned = None
        self._locked(self.charts.show_pinned, self.run.time, None)
        self._locked(self._redraw_differences)
        self._show_message("")

    def _on_overlay_choice(self, event) -> None:
        self._load_overlay(None if event.new == NO_OVERLAY else event.new)

    def _on_overlay_path(self, event) -> None:
        self._load_overlay(event.new or None)

    def _load_overlay(self, text: str | None) -> None:
        if text is None:
            self.overlay = None
            self._locked(self.charts.show_overlay, self.run.time, None)
            self._show_message("")
            return
        try:
            overlay = load_overlay(text, run=self._run)
        except InputError as exc:
            self._show_message(str(exc), error=True)
            return
        self.overlay = overlay
        self._locked(self.charts.show_overlay, overlay.time, overlay.data)
        self._show_message(f"overlay (dotted): {overlay.label}, transition year {fmt(overlay.transition)}",
                           error=False)

    def _on_save_yaml(self, _event=None) -> None:
        try:
            path, scenario = save_scenario(self.settings, self.config.save_dir, self.save_name.value,
                                           self.overwrite.value)
        except (InputError, OSError) as exc:
            self._show_message(save_error(exc), error=True)
            return
        self._show_message(f"saved {path} ({len(scenario.constants)} constants set; read back by the scenario "
                           f"loader); run it with: defdip run {path}", error=False)

    def _on_save_figure(self, _event=None) -> None:
        try:
            paths = save_figure_files(self.run, self.settings.scenario, self.config.save_dir,
                                      self.save_name.value, self.overwrite.value)
        except (InputError, OSError) as exc:
            self._show_message(save_error(exc), error=True)
            return
        self._show_message("saved " + " and ".join(str(p) for p in paths), error=False)

    # --- drawing ---------------------------------------------------------------------------------
    def _rerun(self) -> None:
        self.run = self._run(self.settings.scenario)
        self._redraw()

    def _run(self, scenario: Scenario):
        """The scenario's run, from a warm worker process (the server never loads the engine)."""
        return self._compute(run_once, scenario)

    def _redraw(self, first: bool = False) -> None:
        """Draw the current run and start its band and loop scores.

        The first run is drawn into the models before the page is sent, so it comes with the
        page; a later one is a change to a page the browser shows, made under its lock.
        """
        self.version += 1
        if first:
            self._put_run()
        else:
            self._locked(self._draw, self.version)
        self.worker.submit(self._background, self.version, self.settings.scenario)

    def _draw(self, version: int) -> None:
        """Put the current run into the page, as one message (the browser lays out and paints once)."""
        if version != self.version:
            return  # a newer change is on its way
        with pn.io.hold(self.doc):
            self._put_run()

    def _put_run(self) -> None:
        """The current run into the charts, then the numbers (whose version marks the redraw)."""
        run = self.run
        self.charts.show_run(run.time, run.data, run.thresholds, run.transition)
        self._redraw_differences()
        self.keys.object = self._keys_html()
        self.band_status.object = self._status_html("band", "computing the uncertainty band ...")
        if self.config.dominance:
            self.loop_status.object = self._status_html("loops", "scoring the loops ...")

    def _locked(self, callback, *args) -> None:
        """Run ``callback`` where Bokeh models may change: under the session's document lock.

        Panel calls some widget watchers (a text box's Enter) outside the lock, where changing a
        Bokeh data source raises; the next tick of the server's loop always holds it.
        """
        if self._gone():  # a late band or loop score has nowhere to go
            return
        if self.doc is not None and self.doc.session_context is not None:
            self.doc.add_next_tick_callback(partial(self._unless_gone, callback, *args))
        else:  # no server session (a test building the page directly): draw at once
            callback(*args)

    def _unless_gone(self, callback, *args) -> None:
        if not self._gone():  # the tab may have closed since the call was queued
            callback(*args)

    def _gone(self) -> bool:
        """Whether the tab has gone: its session destroyed, or its browser connection closed.

        Bokeh destroys a session some time after its tab closes; until then a change to its
        document is still sent, to a closed connection (tornado then logs the failure). A page
        that has had a connection and has none now is gone as well.
        """
        session = getattr(self.doc.session_context, "session", None) if self.doc is not None else None
        if session is not None and not self.closed:
            count = session.connection_count
            self.connected |= count > 0
            self.closed = self.connected and count == 0
        return self.closed

    def _redraw_differences(self) -> None:
        if self.differences is None:
            return
        pinned = None if self.pinned is None else self.pinned.data
        self.differences.show(self.run.time, self.run.data, pinned)

    def _keys_html(self) -> str:
        numbers = key_numbers(self.run, self.final)
        pinned = key_numbers(self.pinned, self.final) if self.pinned is not None else {}
        rows = [("transition year", "transition year")]
        rows += [(f"{n} {y}", f"{n}@{y}") for n in SHOWN_KEYS for y in SHOWN_YEARS if f"{n}@{y}" in numbers]
        end = f"{self.run.time[-1]:g}"
        rows += [(f"{n} at {end}", f"{n}@{end}") for n in self.final if f"{n}@{end}" in numbers]
        phase = self.run.summary.get("phase_by_year", {})
        head = "<tr><th></th><th>current</th>" + ("<th>pinned</th><th>difference</th>" if pinned else "") + "</tr>"
        body = []
        for label, key in rows:
            value = numbers.get(key)
            cells = [f"<td data-key='{html.escape(key)}' data-value='{value!r}'"
                     + (" id='transition'" if key == "transition year" else "") + f">{fmt(value)}</td>"]
            if pinned:
                other = pinned.get(key)
                diff = None if value is None or other is None else value - other
                cells += [f"<td>{fmt(other)}</td>", f"<td>{fmt(diff)}</td>"]
            body.append(f"<tr><td>{html.escape(label)}</td>{''.join(cells)}</tr>")
        phases = ", ".join(f"{y}: {phase[y]}" for y in SHOWN_YEARS if y in phase)
        return (f"<div data-version='{self.version}' class='dd-version'>"
                f"<b>Transition to the strategic phase: <span id='transition-text'>{fmt(self.run.transition)}"
                f"</span></b> &middot; {html.escape(self._changes_text())} &middot; {PHASE.lower()} {phases}"
                f"<table class='dd-keys'>{head}{''.join(body)}</table></div>")

    def _changes_text(self) -> str:
        changed = self.settings.changed
        if not changed:
            return f"as {self.settings.base.name}"
        return "changed: " + ", ".join(f"{k} = {fmt(v)}" for k, v in changed.items())

    def _status_html(self, what: str, text: str, done: bool = False) -> str:
        return (f"<div id='{what}-status' data-version='{self.version}' data-done='{int(done)}' "
                f"style='font-size:12px;color:#555'>{html.escape(text)}</div>")

    def _show_message(self, text: str, error: bool = True) -> None:
        css = "dd-msg-error" if error else "dd-msg-ok"
        self.message.object = f"<div id='message' class='{css}'>{html.escape(text)}</div>" if text else ""

    # --- background ------------------------------------------------------------------------------
    def _background(self, version: int, scenario: Scenario) -> None:
        """The band, then the loop scores, for ``version``; skipped once a newer change exists.

        A stale task returns before its pause too: after a run of quick changes the worker may hold
        one task per change, and each pausing in turn would delay the latest band by all the pauses.
        """
        if version != self.version or self._gone():
            return
        _time.sleep(BAND_DELAY)
        if version != self.version or self._gone():
            return
        started = _time.perf_counter()
        try:
            band = self._compute(uncertainty_band, scenario, self.config.band_runs, self.config.seed)
        except Exception as exc:  # noqa: BLE001 - the band's failure is shown where the band goes; the page goes on
            self._next_tick(self._band_failed, version, _failure(exc))
            return
        if version != self.version or self._gone():
            return
        self._next_tick(self._show_band, version, band, _time.perf_counter() - started)
        if not self.config.dominance:
            return
        started = _time.perf_counter()
        try:
            scores = self._compute(loop_dominance, scenario)
        except Exception as exc:  # noqa: BLE001 - an optional panel: its failure is shown there, the page goes on
            self._next_tick(self._loops_failed, version, _failure(exc))
            return
        self._next_tick(self._show_loops, version, scores, _time.perf_counter() - started)

    def _compute(self, function, *args):
        """``function(*args)`` in the worker pool (waiting for it releases the GIL), or here.

        A worker that died (killed, out of memory) breaks the pool; the session then goes on
        computing in this process.
        """
        if self.config.pool is not None:
            try:
                return self.config.pool.submit(function, *args).result()
            except BrokenProcessPool:
                pass
        return function(*args)

    def _next_tick(self, callback, *args) -> None:
        self._locked(callback, *args)

    def _show_band(self, version: int, band, seconds: float) -> None:
        if version != self.version:
            return
        self.charts.show_band(band.time, band.percentiles)
        self.band_status.object = self._status_html(
            "band", f"band: 5-95 % of {band.runs} runs over {len(band.constants)} constants "
                    f"({band.source}), computed in {seconds:.2f} s", done=True)

    def _band_failed(self, version: int, message: str) -> None:
        if version == self.version:
            self.charts.show_band(self.run.time, {})
            self.band_status.object = self._status_html("band", f"no band: {message}", done=True)

    def _show_loops(self, version: int, scores, seconds: float) -> None:
        if version != self.version:
            return
        self.scores = scores
        if self.loops is not None:
            self.loops.show(scores.time, scores.scores)
        self.loop_status.object = self._status_html(
            "loops", f"{len(scores.scores)} strongest loops (documented loops first), scored in {seconds:.2f} s",
            done=True)

    def _loops_failed(self, version: int, message: str) -> None:
        if version == self.version:
            self.loop_status.object = self._status_html("loops", f"no loop scores: {message}", done=True)

    def close(self) -> None:
        """Stop the session's worker (called when the browser tab goes away)."""
        self.closed = True
        self.worker.shutdown(wait=False, cancel_futures=True)


def page(config: ExploreConfig):
    """A new session's page (Panel calls this once per browser tab)."""
    explorer = ExplorerPage(config)
    pn.state.on_session_destroyed(lambda _context: explorer.close())
    return explorer.layout()


def _failure(exc: BaseException) -> str:
    """A background failure as the page shows it: the message of bad input, else its type too."""
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


def serve(config: ExploreConfig, port: int, open_browser: bool = True, on_ready=print) -> None:
    """Serve the explorer on ``127.0.0.1:port`` until interrupted.

    Parameters
    ----------
    config : ExploreConfig
        Its ``pool`` (:func:`defdip.io.explore_workers.worker_pool`) is the caller's to start,
        before Panel is imported, and to shut down.
    port : int
        TCP port (0: any free one).
    open_browser : bool
        Open the page in the default browser once the server listens.
    on_ready : callable
        Called with the page's address once the server listens.
    """
    pn.config.raw_css = [*pn.config.raw_css, CSS]
    port = port or free_port()
    pool = config.pool
    warm = []

    def warm_up_once():  # once the first page is shown: until then it would compete for the cores
        if pool is not None and not warm:
            warm.extend(pool.submit(warm_up, config.scenario, config.seed, config.dominance) for _ in range(WORKERS))

    def session():  # Panel calls a plain function per session (it shows a functools.partial as text)
        pn.state.onload(warm_up_once)
        return page(config)

    server = pn.serve({"/": session}, port=port, address=HOST, show=False, start=False,
                      title=f"defdip explore: {config.scenario.name}", verbose=False,
                      websocket_origin=[f"{HOST}:{port}", f"localhost:{port}"])
    url = f"http://{HOST}:{server.port}/"
    _stop_on_terminate(server.io_loop)
    on_ready(url)
    if open_browser:
        server.io_loop.add_callback(webbrowser.open, url)
    server.io_loop.start()


def _stop_on_terminate(io_loop) -> None:
    """A terminate signal stops the server as Ctrl-C does, so the command shuts its workers down."""
    try:
        io_loop.asyncio_loop.add_signal_handler(signal.SIGTERM, io_loop.stop)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        pass


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
