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

# Hand-ordered layout of the project model on a 23 x 14 canvas [figure inches]:
# drivers left; the Russia->Iran channel (contracts left to right, the delivery
# gate below them) above the Iran->Russia channel and the war economy, with the
# sanctions both channels feed on the row between them; soft channels and
# commitment (commitment on top, trust below, then institutions and the
# channels' stocks); indicators right, the legend below them. A variable not
# listed here is placed on an extra row below.
_WIDTH, _HEIGHT = 23, 14
_BANDS = (  # title, x0, y0, x1, y1, colour
    ("Drivers", 0.1, 0.1, 2.5, 13.9, "#f3e9dc"),
    ("Russia \u2192 Iran channel", 2.7, 7.6, 13.3, 13.9, "#e3eef9"),
    ("Iran \u2192 Russia channel and war economy", 2.7, 0.1, 13.3, 6.4, "#e6f4e6"),
    ("Soft channels and commitment", 13.5, 0.1, 19.0, 13.9, "#f1e6f5"),
    ("Indicators", 19.2, 5.4, 22.9, 13.9, "#eeeeee"),
)
_POSITIONS = {
    # drivers
    "jcpoa status": (1.3, 12.3),
    "russia west relations": (1.3, 10.3),
    "sanctions pressure": (1.3, 7.0),
    "iran threat perception": (1.3, 5.2),
    "ukraine war intensity": (1.3, 0.8),
    # the sanctions between the two channels (B1, R2)
    "sanctions imposition": (3.6, 7.0),
    "indicated sanctions pressure": (4.9, 7.0),
    "sanctions for arms trade": (6.5, 7.0),
    # Russia -> Iran: top-tier requests, the contract pipeline, the delivery gate, alarm
    "iran claims on cancelled contracts": (5.3, 13.05),
    "iran top tier requests": (7.05, 13.05),
    "top tier contracting": (8.8, 13.05),
    "top tier release": (10.55, 13.05),
    "iran unmet arms demand": (3.55, 11.8),
    "ri contracts in negotiation": (5.3, 11.8),
    "ri order backlog": (7.05, 11.8),
    "ri production starts": (8.8, 11.8),
    "ri arms in preparation": (10.55, 11.8),
    "arms transfers russia to iran": (12.3, 11.8),
    "russian delivery cost": (5.3, 10.55),
    "russian delivery gate": (7.05, 10.55),
    "cumulative transfer value russia to iran": (12.3, 10.45),
    "russian willingness to supply": (8.8, 9.2),
    "regional alarm": (5.3, 8.2),
    "alarm rise": (7.05, 8.2),
    "russia to iran transfer index": (10.55, 8.3),
    # Iran -> Russia: Iran's willingness, the supply pipeline, Russia's reliance
    "iran need for russia": (3.55, 5.65),
    "iran willingness to supply": (5.3, 5.65),
    "iran to russia transfer index": (7.05, 5.65),
    "russian reliance on iran": (8.8, 5.65),
    "iran defence industrial capacity": (3.55, 4.4),
    "ir contracting": (5.3, 4.5),
    "ir supply pipeline": (7.05, 4.5),
    "arms transfers iran to russia": (8.8, 4.5),
    "cumulative transfer value iran to russia": (10.55, 4.5),
    # the war economy: Russian demand, localisation (B3), North Korea (B5)
    "russian military demand": (5.3, 3.2),
    "localisation growth": (8.8, 3.2),
    "demand decline": (3.55, 2.6),
    "demand build up": (5.05, 2.0),
    "munitions gap": (7.05, 2.0),
    "russian localised production": (8.8, 2.0),
    "nk supply growth": (7.4, 0.75),
    "north korean supply to russia": (9.2, 0.75),
    # commitment (R3) and crisis support (R4)
    "strategic commitment": (14.45, 13.05),
    "commitment building": (16.25, 13.05),
    "sustained reciprocity": (18.05, 13.05),
    "crisis support level": (14.45, 11.8),
    "indicated commitment": (16.25, 11.8),
    "reciprocity memory update": (18.05, 11.8),
    "russian crisis support": (14.45, 10.55),
    "crisis letdown": (14.45, 9.3),
    "defection rate": (14.45, 8.05),
    # trust and institutions (R5), the channels' stocks
    "mutual trust": (16.25, 7.45),
    "trust building": (17.55, 7.45),
    "trust erosion": (14.45, 6.8),
    "institution building": (16.25, 6.2),
    "indicated trust": (18.3, 6.2),
    "institutionalisation": (16.25, 4.95),
    "training and exercises": (14.45, 3.05),
    "technical and industrial exchange": (16.25, 1.8),
    # indicators
    "partnership phase": (20.1, 13.05),
    "reciprocity": (20.1, 11.8),
    "cooperation depth": (20.1, 6.8),
}
_LOOP_MARKS = {  # inside each named loop, clear of the boxes
    "R1": (12.6, 8.9), "R2": (2.75, 6.62), "R3": (11.45, 12.45), "R4": (15.4, 9.9), "R5": (17.15, 6.3),
    "B1": (4.0, 7.75), "B2": (6.2, 9.4), "B3": (7.9, 2.6), "B4": (4.1, 3.4), "B5": (7.55, 1.35),
}
_UNKNOWN_PER_ROW = 10  # variables the layout does not know, per extra row
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
        pos[n] = (1.3 + (i % _UNKNOWN_PER_ROW) * 2.0, -0.9 - 1.0 * (i // _UNKNOWN_PER_ROW))
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
        Where to draw; a new 23 x 14 inch figure (the layout's own size) on an Agg canvas when
        omitted.
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

        fig = Figure(figsize=(_WIDTH, _HEIGHT))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
    ymin = min(0.0, min(y for _, y in pos.values()) - 0.6)
    ax.set_xlim(0, _WIDTH)
    ax.set_ylim(ymin, _HEIGHT)
    ax.set_aspect("equal")
    ax.axis("off")
    scale = _inches_per_unit(ax, _WIDTH, _HEIGHT - ymin)

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
