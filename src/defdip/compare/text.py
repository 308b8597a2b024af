"""The comparison table as text: the presentation stage of ``defdip compare`` in a terminal.

Formats the table of :func:`defdip.compare.gather.metrics_table` as fixed-width blocks, one
overview and one per indicator, with each run's difference from the reference in brackets.
Nothing here gathers, aligns or computes runs; that is :mod:`defdip.compare.gather`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from defdip.compare.gather import TABLE_YEARS


def table_text(table: pd.DataFrame, variables, reference: str, years=TABLE_YEARS) -> str:
    """The metrics table as fixed-width text: an overview block, then one block per indicator.

    Differences from the reference are shown in brackets (``-`` where a side has no value).
    """
    width = max(len("scenario"), *(len(n) + 2 for n in table.index))
    overview = [("transition", "transition_year"), ("yrs ph1", "years_phase_1"), ("yrs ph2", "years_phase_2"),
                ("yrs ph3", "years_phase_3"), ("cum R->I 2010-24", "cumulative_ri_value_2010_2024")]
    blocks = [_block(table, width, reference, "Overview",
                     [(head, col, metric_format(col, table[col])) for head, col in overview])]
    for name in variables:
        columns = [f"{name} {y}" for y in years]
        blocks.append(_block(table, width, reference, name,
                             [(str(y), c, metric_format(c, table[columns])) for y, c in zip(years, columns)]))
    return "\n\n".join(blocks)


def metric_format(metric: str, values) -> str:
    """The format spec of a metrics-table column, for text and HTML alike.

    Years (transition year, years in a phase) to two decimals (saved steps are quarters);
    otherwise whole numbers without decimals, values below 10 to three decimals, larger ones
    to one. ``values`` are the numbers shown together (a column or an indicator's block).
    """
    if metric.startswith(("transition_year", "years_phase")):
        return ".2f"
    finite = np.asarray(values, float).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size and np.allclose(finite, np.rint(finite)):
        return ".0f"
    return ".3f" if not finite.size or np.abs(finite).max() < 10 else ".1f"


def _block(table: pd.DataFrame, width: int, reference: str, title: str, columns) -> str:
    cells = {name: [_cell(table.at[name, col], table.at[name, f"{col} diff"], fmt, name == reference,
                          "none" if col == "transition_year" else "-")
                    for _, col, fmt in columns] for name in table.index}
    widths = [max(len(head), *(len(c[i]) for c in cells.values())) for i, (head, _, _) in enumerate(columns)]
    lines = [title, f"{'scenario':<{width}}  " + "  ".join(f"{h:>{w}}" for (h, _, _), w in zip(columns, widths))]
    for name, row in cells.items():
        label = f"{name} *" if name == reference else name
        lines.append(f"{label:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row, widths)))
    return "\n".join(lines)


def _cell(value, diff, fmt: str, is_reference: bool, missing: str = "-") -> str:
    if value is None or math.isnan(value):
        text = missing
    else:
        text = format(value, fmt)
    if is_reference:
        return text
    delta = "-" if diff is None or math.isnan(diff) else format(diff, "+" + fmt)
    return f"{text} ({delta})"
