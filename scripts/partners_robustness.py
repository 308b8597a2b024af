"""How robust is the family-member separation of models/russia_partners.mdl?

Runs the model on pysimlin (it agrees with PySD to 1e-9 on the baseline, tests/test_partners.py) and
reports, for the general constants that have a declared range (not dates, scenario inputs or the
definitions strategic threshold / transition persistence):

1. one at a time: each constant at the ends of its range;
2. jointly: every constant drawn uniformly within +-30% of its default (clipped to its range);
3. jointly: every constant drawn uniformly over its whole declared range;
4. sweeps of the constants the DPRK's timing depends on most;
5. Iran's ceiling: pairs of the ten one-at-a-time settings that raise Iran's commitment most;
6. loop knock-outs: each named loop's link cut (some cuts lie outside the declared ranges).

Usage: python scripts/partners_robustness.py [--samples N] [--seed S]
"""
import argparse
import itertools
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

MODEL = Path(__file__).resolve().parents[1] / "models" / "russia_partners.mdl"
SKIP = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER", "strategic threshold", "transition persistence",
        "western pressure multiplier", "detente recovery", "two sided channels needed"}
THRESHOLD, PERSISTENCE = 0.7, 2.0
KNOCKOUTS = [
    ("none (baseline)", {}),
    ("need -> commitment (reliance weight 0)", {"reliance weight": 0}),
    ("R6 need -> Russia's willingness (reliance effect on willingness 0)", {"reliance effect on willingness": 0}),
    ("R7 no defence clause (clause reliance onset 1)", {"clause reliance onset": 1}),
    ("R7 troops count for nothing (troop reliance weight 0)", {"troop reliance weight": 0}),
    ("R1 reciprocity (trust from two way 0, payment in kind share 0)",
     {"trust from two way": 0, "payment in kind share": 0}),
    ("R2 shared isolation (cw isolation 0, isolation weight 0)", {"cw isolation": 0, "isolation weight": 0}),
    ("R3 top-tier release (top tier level 1)", {"top tier level": 1, "materiel help level": 1.1}),
    ("R4 letdown (letdown defection weight 0)", {"letdown defection weight": 0}),
    ("R5 institutions (treaty weights and trust from institutions 0)",
     {"trust from institutions": 0, "treaty framework weight": 0, "clause framework weight": 0}),
    ("B2 balancing (balancing defection weight 0, alarm time 1000)",
     {"balancing defection weight": 0, "alarm time": 1000}),
    ("divergence (divergence effect 0)", {"divergence effect": 0}),
    ("B3 localisation (max localisation share 0)", {"max localisation share": 0}),
]


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

    top = oat.sort_values("iran_max_2035", ascending=False).drop_duplicates("constant").head(10)
    pairs = []
    for (_, a), (_, b) in itertools.combinations(top.iterrows(), 2):
        o = outcome(model, {normalise(a.constant): a.value, normalise(b.constant): b.value})
        pairs.append({"first": f"{a.constant}={a.value}", "second": f"{b.constant}={b.value}", **o})
    pairs = pd.DataFrame(pairs).sort_values("iran_max_2035", ascending=False)
    print(f"pairs: Iran strategic (transition found) in {pairs.iran_transition.notna().sum()} of {len(pairs)}:")
    print(pairs.head(8)[["first", "second", "iran_transition", "iran_max_2026", "iran_max_2035", "dprk_transition"]]
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

    print("knock-outs | DPRK transition | DPRK commitment 2025.5 | Iran max 2026 | Iran max 2035")
    for label, overrides in KNOCKOUTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = model.run(overrides={normalise(k): v for k, v in overrides.items()}, analyze_loops=False).results
        r.index = np.round(2010 + 0.25 * np.arange(len(r)), 6)
        o = outcome(model, {normalise(k): v for k, v in overrides.items()})
        print(f"| {label} | {o['dprk_transition']} | {r['strategic_commitment[dprk]'].loc[2025.5]:.2f} |"
              f" {o['iran_max_2026']:.2f} | {o['iran_max_2035']:.2f} |")


if __name__ == "__main__":
    main()
