"""The figure of a model's key structure: the plotting stage of :mod:`defdip.analysis.structure`.

:func:`draw_structure` draws the stocks, loop variables and indicators kept by
:func:`defdip.analysis.structure.key_structure` on a hand-ordered layout, with the named loops
marked; :func:`write_structure_figure` reads the graph and loops from a model file
and saves the figure. Drawing only consumes what :mod:`defdip.analysis.structure` computes.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import networkx as nx

from defdip.analysis.structure import (
    causal_graph,
    key_structure,
    loop_polarity,
    named_loops,
    resolve_chain,
)
from defdip.core.case import STRUCTURE_INDICATORS
from defdip.core.names import canonical

INDICATORS = STRUCTURE_INDICATORS

# Hand-ordered layout of the project model on a 16 x 10 canvas [figure inches]:
# drivers left, the Russia->Iran channel above the Iran->Russia channel (the
# sanctions they share between them), soft channels, then indicators. A
# variable not listed here is placed on an extra row below.
_BANDS = (  # title, x0, y0, x1, y1, colour
    ("Drivers", 0.1, 0.1, 2.5, 9.9, "#f3e9dc"),
    ("Russia \u2192 Iran channel", 2.7, 5.45, 9.7, 9.9, "#e3eef9"),
    ("Iran \u2192 Russia channel", 2.7, 0.1, 9.7, 4.55, "#e6f4e6"),
    ("Soft channels", 9.9, 0.1, 12.7, 9.9, "#f1e6f5"),
    ("Indicators", 12.9, 4.0, 15.9, 9.9, "#eeeeee"),
)
_POSITIONS = {
    "jcpoa status": (1.3, 8.4),
    "russia west relations": (1.3, 6.6),
    "sanctions pressure": (1.3, 5.0),
    "iran threat perception": (1.3, 3.3),
    "ukraine war intensity": (1.3, 1.2),
    "sanctions for arms trade": (4.2, 5.0),
    "iran unmet arms demand": (3.6, 9.0),
    "ri order backlog": (5.35, 9.0),
    "arms transfers russia to iran": (7.1, 9.0),
    "cumulative transfer value russia to iran": (8.85, 9.0),
    "russian willingness to supply": (3.6, 7.4),
    "russian supply gate": (5.9, 7.4),
    "regional alarm": (8.3, 7.0),
    "russian political cost": (5.9, 6.1),
    "iran need for russia": (3.6, 3.6),
    "iran willingness to supply": (5.9, 3.6),
    "ir supply pipeline": (5.9, 2.3),
    "arms transfers iran to russia": (8.3, 2.3),
    "russian reliance on iran": (8.3, 3.8),
    "munitions gap": (3.6, 1.0),
    "russian military demand": (5.9, 1.0),
    "demand decline": (4.7, 0.45),
    "russian localised production": (8.3, 0.8),
    "technical and industrial exchange": (11.3, 1.6),
    "training and exercises": (11.3, 3.8),
    "mutual trust": (11.3, 6.2),
    "institutionalisation": (11.3, 8.4),
    "partnership phase": (14.4, 9.0),
    "strategic partnership index": (14.4, 7.7),
    "reciprocity": (14.4, 6.2),
    "cooperation depth": (14.4, 4.8),
}
_LOOP_MARKS = {"R1": (9.6, 5.0), "R2": (5.0, 4.3), "B1": (5.0, 5.75), "B2": (6.75, 7.2),
               "B3": (7.0, 1.6), "B4": (5.6, 0.3)}
_NODE_STYLE = {  # box style, face, edge colour, edge width [pt], bold label
    "stock": ("square,pad=0", "#ffffff", "#1f4e79", 1.8, True),
    "flow": ("round,pad=0,rounding_size=0.12", "#fff4e0", "#c55a11", 1.3, False),
    "auxiliary": ("round,pad=0,rounding_size=0.08", "#ffffff", "#9a9a9a", 0.7, False),
    "constant": ("round,pad=0,rounding_size=0.08", "#ffffff", "#cccccc", 0.5, False),
}
_FONT_SIZE = 9.5  # [pt] at the layout's own scale of one inch per unit
_LINE_SPACING = 1.1
_PAD = 0.09  # [layout units] between label and box edge
_LOOP_COLOUR = "#333333"
_OTHER_COLOUR = "#b5b5b5"


def structure_layout(nodes) -> dict[str, tuple[float, float]]:
    """Positions [figure inches] of the key variables: the hand layout, unknown names on a row below."""
    pos, unknown = {}, []
    for n in nodes:
        if canonical(n) in _POSITIONS:
            pos[n] = _POSITIONS[canonical(n)]
        else:
            unknown.append(n)
    for i, n in enumerate(sorted(unknown)):
        pos[n] = (1.3 + (i % 8) * 2.0, -0.9 - 1.0 * (i // 8))
    return pos


def draw_structure(graph: nx.DiGraph, loops: dict[str, list[str]], ax=None):
    """Stock-and-flow overview: stocks, loop variables, indicators, and the named loops.

    Parameters
    ----------
    graph : networkx.DiGraph
        From :func:`causal_graph`.
    loops : dict
        From :func:`named_loops`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 16 x 10 inch figure on an Agg canvas when omitted.
        Text and lines scale with the axes, so the picture looks the same at any size.

    Returns
    -------
    matplotlib.axes.Axes
    """
    key = key_structure(graph, loops, extra=INDICATORS)
    pos = structure_layout(key.nodes)
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(16, 10))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
    ymin = min(0.0, min(y for _, y in pos.values()) - 0.6)
    ax.set_xlim(0, 16)
    ax.set_ylim(ymin, 10)
    ax.set_aspect("equal")
    ax.axis("off")
    scale = _inches_per_unit(ax, 16, 10 - ymin)

    _draw_bands(ax, scale)
    extents = node_boxes(key, pos)
    boxes = {n: _draw_node(ax, n, pos[n], key.nodes[n]["kind"], extents[n], scale) for n in pos}
    for u, v, data in key.edges(data=True):
        _draw_edge(ax, boxes[u], boxes[v], pos[u], pos[v], data, scale)
    _draw_loop_marks(ax, key, loops, pos, scale)
    _draw_legend(ax, loops, scale)
    return ax


def _inches_per_unit(ax, width: float, height: float) -> float:
    fig_w, fig_h = ax.figure.get_size_inches()
    box = ax.get_position()
    return min(box.width * fig_w / width, box.height * fig_h / height)


def _draw_bands(ax, scale: float) -> None:
    from matplotlib.patches import FancyBboxPatch

    for title, x0, y0, x1, y1, colour in _BANDS:
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=0.15",
                                    fc=colour, ec="none", zorder=0))
        ax.text(x0 + 0.12, y1 - 0.1, title, ha="left", va="top", fontsize=11 * scale,
                fontweight="bold", color="#555555", zorder=1)


def node_boxes(key: nx.DiGraph, pos: dict) -> dict[str, tuple[float, float, float, float]]:
    """Box ``(x0, y0, x1, y1)`` [layout units] around each node's wrapped label at its position."""
    boxes = {}
    for name, (x, y) in pos.items():
        width, height = _label_size(_wrap(name), _NODE_STYLE[key.nodes[name]["kind"]][4])
        boxes[name] = (x - width / 2 - _PAD, y - height / 2 - _PAD,
                       x + width / 2 + _PAD, y + height / 2 + _PAD)
    return boxes


def _wrap(name: str) -> list[str]:
    return textwrap.wrap(name, 16, break_long_words=False) or [name]


def _label_size(lines: list[str], bold: bool) -> tuple[float, float]:
    """Width and height of a label [layout units] from its glyph outlines (no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(size=_FONT_SIZE, weight="bold" if bold else "normal")
    width = max(TextPath((0, 0), line, prop=prop).get_extents().width for line in lines)
    height = _FONT_SIZE * (1 + (len(lines) - 1) * 1.2 * _LINE_SPACING)
    return width / 72, height / 72


def _draw_node(ax, name: str, xy, kind: str, extent, scale: float):
    """Label in its box; the box is returned so arrows can stop at its edge."""
    from matplotlib.patches import FancyBboxPatch

    style, face, edge, lw, bold = _NODE_STYLE[kind]
    x0, y0, x1, y1 = extent
    box = FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle=style, fc=face, ec=edge,
                         lw=lw * scale, zorder=4)
    ax.add_patch(box)
    ax.text(*xy, "\n".join(_wrap(name)), ha="center", va="center", fontsize=_FONT_SIZE * scale,
            fontweight="bold" if bold else "normal", linespacing=_LINE_SPACING, zorder=5)
    return box


def _draw_edge(ax, box_u, box_v, xy_u, xy_v, data, scale: float) -> None:
    from matplotlib.patches import FancyArrowPatch

    on_loop = bool(data["loops"])
    flow = data["link"] == "flow"
    colour = "#c55a11" if flow else (_LOOP_COLOUR if on_loop else _OTHER_COLOUR)
    width = 2.6 if flow else (1.4 if on_loop else 0.8)
    # Both directions between a pair bend apart (same sign, opposite travel);
    # long edges bend more to clear the boxes between their ends.
    rad = 0.18 if abs(xy_u[0] - xy_v[0]) + abs(xy_u[1] - xy_v[1]) > 3 else 0.12
    ax.add_patch(FancyArrowPatch(xy_u, xy_v, patchA=box_u, patchB=box_v, shrinkA=1, shrinkB=1,
                                 arrowstyle="-|>", mutation_scale=(13 if on_loop or flow else 10) * scale,
                                 color=colour, lw=width * scale, connectionstyle=f"arc3,rad={rad}",
                                 zorder=3 if on_loop or flow else 2))


def _loop_colour(code: str) -> str:
    return "#b22222" if code.startswith("R") else "#1f6fb2"


def _draw_loop_marks(ax, key: nx.DiGraph, loops, pos, scale: float) -> None:
    for label, chain in loops.items():
        code = label.split()[0]
        xy = _LOOP_MARKS.get(code)
        if xy is None:  # a loop the hand layout does not know: mark its centre
            members = [pos[n] for element in resolve_chain(key, chain) for n in element if n in pos]
            if not members:
                continue
            xy = tuple(sum(c) / len(members) for c in zip(*members))
        ax.text(*xy, f"\u21bb\n{code}", ha="center", va="center", fontsize=10 * scale,
                fontweight="bold", color=_loop_colour(code), linespacing=0.9, zorder=6,
                bbox=dict(boxstyle="circle,pad=0.2", fc="white", ec=_loop_colour(code), lw=1.2 * scale))


def _draw_legend(ax, loops, scale: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def box(kind, label):
        _, face, edge, lw, _ = _NODE_STYLE[kind]
        return Patch(fc=face, ec=edge, lw=lw * scale, label=label)

    handles = [
        box("stock", "stock"), box("flow", "flow (rate)"), box("auxiliary", "auxiliary"),
        Line2D([], [], color="#c55a11", lw=2.6 * scale, label="rate into/out of its stock"),
        Line2D([], [], color=_LOOP_COLOUR, lw=1.4 * scale, label="link on a named loop"),
        Line2D([], [], color=_OTHER_COLOUR, lw=0.8 * scale, label="other influence"),
    ]
    handles += [Line2D([], [], ls="none", marker="$\u21bb$", markersize=9 * scale,
                       color=_loop_colour(label), label=f"{label} ({loop_polarity(label)})")
                for label in loops]
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(0.997, 0.01), fontsize=9 * scale,
              frameon=True, framealpha=0.95, borderaxespad=0,
              title="Links pass through auxiliaries not shown", title_fontsize=9 * scale)


def write_structure_figure(model_path: Path, out_path: Path) -> Path:
    """Draw a model's key structure and save it.

    Parameters
    ----------
    model_path : Path
        The ``.mdl`` file.
    out_path : Path
        Where to write; the suffix picks the format (``.png``, ``.svg``, ...).

    Returns
    -------
    Path
        ``out_path``.
    """
    out_path = Path(out_path)
    ax = draw_structure(causal_graph(model_path), named_loops(model_path))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(out_path, dpi=100)
    return out_path
