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
    blocks = [_block(table, width, reference, "Overview",
                     [("transition", "transition_year", ".2f"), ("yrs ph1", "years_phase_1", ".0f"),
                      ("yrs ph2", "years_phase_2", ".0f"), ("yrs ph3", "years_phase_3", ".0f"),
                      ("cum R->I 2010-24", "cumulative_ri_value_2010_2024", ".1f")])]
    for name in variables:
        columns = [f"{name} {y}" for y in years]
        blocks.append(_block(table, width, reference, name, [(str(y), c, _format_for(table[columns])) for y, c in
                                                             zip(years, columns)]))
    return "\n\n".join(blocks)


def _format_for(values: pd.DataFrame) -> str:
    """Whole numbers without decimals, small values to three decimals, large ones to one."""
    finite = values.to_numpy(float)
    finite = finite[np.isfinite(finite)]
    if finite.size and np.allclose(finite, np.rint(finite)):
        return ".0f"
    return ".3f" if not finite.size or np.abs(finite).max() < 10 else ".1f"


def _block(table: pd.DataFrame, width: int, reference: str, title: str, columns) -> str:
    cells = {name: [_cell(table.at[name, col], table.at[name, f"{col} diff"], fmt, name == reference)
                    for _, col, fmt in columns] for name in table.index}
    widths = [max(len(head), *(len(c[i]) for c in cells.values())) for i, (head, _, _) in enumerate(columns)]
    lines = [title, f"{'scenario':<{width}}  " + "  ".join(f"{h:>{w}}" for (h, _, _), w in zip(columns, widths))]
    for name, row in cells.items():
        label = f"{name} *" if name == reference else name
        lines.append(f"{label:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row, widths)))
    return "\n".join(lines)


def _cell(value, diff, fmt: str, is_reference: bool) -> str:
    if value is None or math.isnan(value):
        text = "none" if fmt == ".2f" else "-"
    else:
        text = format(value, fmt)
    if is_reference:
        return text
    delta = "-" if diff is None or math.isnan(diff) else format(diff, "+" + fmt)
    return f"{text} ({delta})"
