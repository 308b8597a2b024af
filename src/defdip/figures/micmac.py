"""Figures of a MICMAC analysis: the influence-dependence map and the strongest influences.

Plotting only: each function takes results (:class:`defdip.analysis.micmac.MicmacResult`,
:class:`defdip.analysis.micmac.ImpactMatrix`) and draws on a figure from
:func:`defdip.figures.plotting.new_figure`.
"""
from __future__ import annotations

import numpy as np

from defdip.analysis.micmac import classify, strongest_links
from defdip.figures.plotting import PALETTE, new_figure

CLASS_COLOURS = {"driving": PALETTE[1], "relay": PALETTE[3], "dependent": PALETTE[0],
                 "autonomous": "#777777", "regulating": PALETTE[2]}
_QUADRANTS = (("driving", 0.02, 0.98, "left", "top"), ("relay", 0.98, 0.98, "right", "top"),
              ("autonomous", 0.02, 0.02, "left", "bottom"), ("dependent", 0.98, 0.02, "right", "bottom"))


def plot_plane(ax, table, which: str = "direct", labels: bool = True):
    """One influence-dependence plane: points by class, lines at the means, quadrant names.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    table : pandas.DataFrame
        ``micmac.csv`` columns.
    which : {"direct", "indirect"}
    labels : bool
        Label the points (labels are pushed apart so they do not collide).

    Returns
    -------
    matplotlib.axes.Axes
    """

    x = table[f"{which}_dependence"].to_numpy(float)
    y = table[f"{which}_influence"].to_numpy(float)
    classes = classify(y, x)
    for cls in CLASS_COLOURS:
        mask = np.array([c == cls for c in classes])
        if mask.any():
            ax.scatter(x[mask], y[mask], s=46, color=CLASS_COLOURS[cls], edgecolor="black", lw=0.5,
                       zorder=3, label=cls)
    ax.axvline(x.mean(), color="0.4", ls="--", lw=0.9, zorder=1)
    ax.axhline(y.mean(), color="0.4", ls="--", lw=0.9, zorder=1)
    pad_x, pad_y = 0.12 * (np.ptp(x) or 1), 0.12 * (np.ptp(y) or 1)
    ax.set_xlim(max(0, x.min() - pad_x), x.max() + 2 * pad_x)
    ax.set_ylim(max(0, y.min() - pad_y), y.max() + pad_y)
    for name, qx, qy, ha, va in _QUADRANTS:
        ax.text(qx, qy, name, transform=ax.transAxes, ha=ha, va=va, fontsize=10, color="0.45",
                fontstyle="italic", zorder=0)
    ax.set_xlabel(f"{which} dependence [sum of scores received]")
    ax.set_ylabel(f"{which} influence [sum of scores given]")
    ax.set_title(f"{which.capitalize()} (dashed: means)", fontsize=11, loc="left")
    if labels:
        label_points(ax, x, y, table["variable"].tolist())
    return ax


def label_points(ax, x, y, names, fontsize: float = 8):
    """Label points so that no two labels overlap and no label covers a point.

    A small greedy placer (instead of a repel dependency): each label, widest
    first, takes the first free spot among candidates around its point -
    above, below, right, left, then the diagonals, at growing distances - that
    overlaps no point, no label already placed and stays inside the axes. A
    label placed away from its point gets a leader line.
    """
    renderer = ax.figure.canvas.get_renderer()
    to_px = ax.transData
    points = to_px.transform(np.column_stack([x, y]))
    # A light backing keeps the quadrant lines from striking through a label.
    backing = dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75)
    texts = [ax.text(xi, yi, name, fontsize=fontsize, ha="center", va="center", zorder=5, bbox=backing)
             for xi, yi, name in zip(x, y, names)]
    sizes = [(t.get_window_extent(renderer).width + 4, t.get_window_extent(renderer).height + 2) for t in texts]
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[float, float, float, float]] = []
    for i in sorted(range(len(texts)), key=lambda k: -sizes[k][0]):
        w, h = sizes[i]
        centre = _free_spot(points[i], w, h, points, placed, frame)
        placed.append((centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2))
        texts[i].set_position(to_px.inverted().transform(centre))
        # The leader line runs from the nearest edge of the label's box, never across its text.
        edge = np.clip(points[i], placed[-1][:2], placed[-1][2:])
        if np.hypot(*(edge - points[i])) > 10:
            start, end = to_px.inverted().transform(np.array([edge, points[i]]))
            ax.plot([start[0], end[0]], [start[1], end[1]], color="0.55", lw=0.6, zorder=2)
    return texts


def _free_spot(point, w: float, h: float, points, placed, frame) -> np.ndarray:
    """Centre [px] of the first candidate box around ``point`` that collides with nothing."""
    gap = 8.0
    first = None
    for step in range(12):
        d = gap + step * h
        for dx, dy in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)):
            centre = point + np.array([dx * (w / 2 + d), dy * (h / 2 + d)])
            box = (centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2)
            inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
            if not inside:
                continue
            first = centre if first is None else first
            if any(_overlap(box, other) for other in placed):
                continue
            if any(box[0] - 4 < px < box[2] + 4 and box[1] - 4 < py < box[3] + 4 for px, py in points):
                continue
            return centre
    return first if first is not None else np.asarray(point, float) + (0, h)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def figure_map(table, title: str = "MICMAC influence-dependence map"):
    """Direct and indirect planes side by side.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure((15, 6.8))
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.88, bottom=0.17, wspace=0.14)
    for ax, which in zip(axes, ("direct", "indirect")):
        plot_plane(ax, table, which)
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for h, lab in zip(*axes[1].get_legend_handles_labels()[::-1]):
        seen.setdefault(h, lab)
    fig.legend([seen[k] for k in CLASS_COLOURS if k in seen], [k for k in CLASS_COLOURS if k in seen],
               loc="lower center", ncol=5, frameon=False, fontsize=10, title="class (on each plane)")
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    return fig


def figure_graph(matrix, table, minimum: float | None = None,
                 title: str = "Strongest direct influences"):
    """The matrix's strongest cells as a directed graph.

    Nodes are sized by indirect influence and coloured by class, placed on a
    circle (networkx's circular layout) grouped by class, labels outside.

    Parameters
    ----------
    matrix : defdip.analysis.micmac.ImpactMatrix
    table : pandas.DataFrame
        ``micmac.csv`` columns, same variables.
    minimum : float, optional
        Cells at or above this score are drawn (default: the matrix's maximum).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import networkx as nx
    from matplotlib.patches import FancyArrowPatch


    links = strongest_links(matrix, minimum)
    info = table.set_index("variable")
    # Around a circle, grouped by class, labels outside: no label can cross another
    # or a node, and arrows run inside the circle.
    order = sorted(matrix.names, key=lambda n: (list(CLASS_COLOURS).index(info.loc[n, "class"]), n))
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    graph.add_weighted_edges_from(links)
    pos = nx.circular_layout(graph)
    fig = new_figure((11, 9))
    ax = fig.add_axes((0.16, 0.08, 0.68, 0.8))
    ax.set_aspect("equal")
    ax.axis("off")
    top = info["indirect_influence"].max() or 1
    for u, v, w in links:
        ax.add_patch(FancyArrowPatch(pos[u], pos[v], arrowstyle="-|>", mutation_scale=16, lw=0.6 + 0.5 * w,
                                     color="0.3", connectionstyle="arc3,rad=0.1", shrinkA=12, shrinkB=12,
                                     zorder=2))
    for name, (x, y) in pos.items():
        size = 120 + 700 * info.loc[name, "indirect_influence"] / top
        ax.scatter([x], [y], s=size, color=CLASS_COLOURS[info.loc[name, "class"]], edgecolor="black",
                   lw=0.6, zorder=3)
        angle = np.arctan2(y, x)
        ax.text(1.13 * np.cos(angle), 1.13 * np.sin(angle), name, fontsize=9.5, zorder=4,
                ha="left" if np.cos(angle) > 0.2 else "right" if np.cos(angle) < -0.2 else "center",
                va="bottom" if np.sin(angle) > 0.2 else "top" if np.sin(angle) < -0.2 else "center")
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.2, 1.2)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls="none", marker="o", markersize=9, color=c, markeredgecolor="black", label=k)
               for k, c in CLASS_COLOURS.items() if k in set(info["class"])]
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.01), frameon=False, fontsize=9,
              title="class (indirect); size: indirect influence", title_fontsize=9)
    shown = "score 3" if minimum is None and links and links[0][2] == 3 else f"score >= {minimum}"
    fig.suptitle(f"{title} ({shown}; arrow: row influences column)", fontsize=12, x=0.01, ha="left")
    return fig
