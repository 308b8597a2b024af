"""How robust is the family-member separation of models/russia_partners.mdl?

Runs the model on pysimlin (it agrees with PySD to 1e-9 on the baseline, tests/test_partners.py) and
reports, for the general constants that have a declared range (not dates, scenario inputs or the
definitions strategic threshold / transition persistence):

1. one at a time: each constant at the ends of its range;
2. jointly: every constant drawn uniformly within +-30% of its default (clipped to its range);
3. jointly: every constant drawn uniformly over its whole declared range;
4. sweeps of the constants the DPRK's timing depends on most.

Usage: python scripts/partners_robustness.py [--samples N] [--seed S]
"""
import argparse
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

MODEL = Path(__file__).resolve().parents[1] / "models" / "russia_partners.mdl"
SKIP = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER", "strategic threshold", "transition persistence",
        "western pressure multiplier", "detente recovery", "two sided channels needed"}
THRESHOLD, PERSISTENCE = 0.7, 2.0


def normalise(name):
    return re.sub(r"[\s_]+", "_", name.strip().lower())


def ranged_constants(text):
    pattern = re.compile(r"^([a-z][a-z0-9 ]*?) = (-?[0-9.]+)\n\t~\t[^\[\n]*\[([-0-9.]+),([-0-9.?]+)\]", re.M)
    return [(n, float(v), float(lo), float(hi)) for n, v, lo, hi in pattern.findall(text)
            if n not in SKIP and "year" not in n]


def transition_year(series):
    times, ok = series.index.values, series.values >= THRESHOLD
    for i, t in enumerate(times):
        j = np.searchsorted(times, t + PERSISTENCE - 1e-9)
        if j < len(times) and ok[i:j + 1].all():
            return float(t)
    return np.nan


def outcome(model, overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = model.run(overrides=overrides, analyze_loops=False).results
    r.index = np.round(2010 + 0.25 * np.arange(len(r)), 6)
    iran, dprk = r["strategic_commitment[iran]"], r["strategic_commitment[dprk]"]
    return {"dprk_transition": transition_year(dprk), "iran_transition": transition_year(iran),
            "iran_max_2026": iran[iran.index < 2027].max(), "iran_max_2035": iran.max(),
            "dprk_max_2026": dprk[dprk.index < 2027].max()}


def summary(df, label):
    d = df.dprk_transition
    window = (d >= 2024.5) & (d <= 2025.5)
    print(f"{label}: {len(df)} runs")
    print(f"  DPRK transition in [2024.5, 2025.5]: {window.mean():.3f}; by 2030: {(d <= 2030).mean():.3f};"
          f" by 2035: {d.notna().mean():.3f}; quantiles {d.quantile([0.1, 0.5, 0.9]).round(2).tolist()}")
    print(f"  Iran commitment >= {THRESHOLD} through 2026: {(df.iran_max_2026 >= THRESHOLD).mean():.3f};"
          f" through 2035: {(df.iran_max_2035 >= THRESHOLD).mean():.3f}; Iran max 2026 quantiles (50/90/100%)"
          f" {df.iran_max_2026.quantile([0.5, 0.9, 1.0]).round(3).tolist()}")
    print(f"  DPRK max 2026 above Iran's: {(df.dprk_max_2026 > df.iran_max_2026).mean():.3f};"
          f" both verdicts as the record: {(window & (df.iran_max_2026 < THRESHOLD)).mean():.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    import simlin

    text = MODEL.read_text(encoding="utf-8")
    constants = ranged_constants(text)
    model = simlin.load(MODEL)
    base = outcome(model, {})
    print(f"baseline: {base}")
    print(f"{len(constants)} general constants with a declared range")

    rows = []
    for name, value, lo, hi in constants:
        for side, x in (("min", lo), ("max", hi)):
            rows.append({"constant": name, "side": side, "value": x, **outcome(model, {normalise(name): x})})
    oat = pd.DataFrame(rows)
    summary(oat, "one at a time, ends of the ranges")
    off = oat[~oat.dprk_transition.between(2024.5, 2025.5) | (oat.iran_max_2026 >= THRESHOLD)]
    print(off[["constant", "side", "value", "dprk_transition", "iran_max_2026", "iran_max_2035"]]
          .round(3).to_string(index=False))
    print("  highest Iran maxima:")
    print(oat.nlargest(5, "iran_max_2035")[["constant", "side", "value", "iran_max_2026", "iran_max_2035"]]
          .round(3).to_string(index=False))

    rng = np.random.default_rng(args.seed)
    for label, narrow in (("jointly, +-30% of the defaults", True), ("jointly, whole declared ranges", False)):
        rows = []
        for _ in range(args.samples):
            overrides = {}
            for name, value, lo, hi in constants:
                a, b = ((max(lo, 0.7 * value), min(hi, 1.3 * value)) if value else (lo, lo + 0.3 * (hi - lo))) \
                    if narrow else (lo, hi)
                overrides[normalise(name)] = rng.uniform(a, b) if b > a else value
            rows.append(outcome(model, overrides))
        summary(pd.DataFrame(rows), label)

    for name, values in (("commitment build time", [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6]),
                         ("reliance weight", [0.5, 1, 1.5, 2, 2.5, 3]),
                         ("divergence effect", [0, 0.25, 0.5, 0.75, 1]),
                         ("war damage to relations", [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])):
        cells = []
        for x in values:
            o = outcome(model, {normalise(name): x})
            cells.append(f"{x}: DPRK {o['dprk_transition']}, Iran max {o['iran_max_2026']:.2f}")
        print(f"{name}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
