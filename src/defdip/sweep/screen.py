"""The global screen's table: every constant's Morris effects, and whether the scenario varies it.

``defdip sweep --method morris --vary all`` samples every constant with a declared range
(:data:`defdip.sweep.sampling.VARY_ALL`); :func:`screen_table` turns its Morris indices into
``screen.csv``, one row per outcome and constant, so the constants a scenario's
``uncertainties`` leave out, and what they do, can be read off.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from defdip.sweep.plan import SweepPlan
from defdip.sweep.sampling import SOURCES

SCREEN_SOURCE = SOURCES[3]
COLUMNS = ("outcome", "constant", "mu_star", "mu_star_conf", "sigma", "in_uncertainties", "changes_verdict", "rank")


def screen_table(plan: SweepPlan, indices: pd.DataFrame | None) -> pd.DataFrame | None:
    """One row per outcome and constant, most influential first; ``None`` unless a morris ``--vary all``.

    Columns :data:`COLUMNS`: ``mu_star`` (mean absolute elementary effect over the
    constant's full range [outcome units]) with its confidence half-width, ``sigma``,
    ``in_uncertainties`` (the scenario's ``uncertainties`` list it), ``changes_verdict``
    (for a yes/no outcome such as ``strategic by 2030``: at least one step of this constant
    alone flipped it, i.e. ``mu_star > 0``; empty for other outcomes) and ``rank`` by
    ``mu_star`` within the outcome (1 = most influential).
    """
    if indices is None or plan.method != "morris" or plan.problem.source != SCREEN_SOURCE:
        return None
    kinds = {o.spec: o.kind for o in plan.outcomes}
    wide = indices.pivot_table(index=["outcome", "parameter"], columns="index", values=["value", "conf"],
                               aggfunc="first", sort=False)
    table = pd.DataFrame({"outcome": wide.index.get_level_values(0), "constant": wide.index.get_level_values(1),
                          "mu_star": wide[("value", "mu_star")].to_numpy(float),
                          "mu_star_conf": wide[("conf", "mu_star")].to_numpy(float),
                          "sigma": wide[("value", "sigma")].to_numpy(float)})
    table["in_uncertainties"] = table["constant"].isin(list(plan.scenario.uncertainties))
    yes_no = table["outcome"].map(kinds).eq("strategic_by")
    table["changes_verdict"] = np.where(yes_no, table["mu_star"] > 0, None)
    table["rank"] = table.groupby("outcome", sort=False)["mu_star"].rank(ascending=False, method="min")
    table = table.sort_values(["outcome", "rank"], kind="stable", key=_outcome_order(plan))
    table["rank"] = table["rank"].astype(int)
    return table[list(COLUMNS)].reset_index(drop=True)


def _outcome_order(plan: SweepPlan):
    order = {o.spec: i for i, o in enumerate(plan.outcomes)}
    return lambda column: column.map(order) if column.name == "outcome" else column


def omissions(screen: pd.DataFrame) -> pd.DataFrame:
    """The constants left out of the scenario's uncertainties that change a yes/no verdict alone."""
    rows = screen[screen["changes_verdict"].eq(True) & ~screen["in_uncertainties"]]
    return rows.reset_index(drop=True)
