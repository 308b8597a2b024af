"""Try to break the two-partner finding on the compiled engine (6 ms a run): one at a time and joint
sampling over the declared ranges, each dated input removed, each consequence of commitment cut.

Usage: python scripts/partners_breakit.py (from the repository root)
"""
import warnings; warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from defdip.core.model import model_info
from defdip.engines.ensemble import EnsembleModel, Timing
M = "models/russia_partners.mdl"
info = model_info(M); em = EnsembleModel.load(M)
T = Timing(info.control("INITIAL TIME"), info.control("FINAL TIME"), info.control("TIME STEP"), 0.25)
OUT = ["Strategic Commitment[Iran]", "Strategic Commitment[DPRK]"]
def run(constants, size=None):
    t, v = em.run(T, constants, None, OUT, size=size); return t, v
def transition(t, c, thr=0.7, hold=2.0):
    above = c >= thr
    for i in range(len(t)):
        if above[i] and above[i:][t[i:] <= t[i] + hold].all() and t[i] + hold <= t[-1]: return t[i]
    return np.nan
def summ(label, constants, size=None):
    t, v = run(constants, size)
    ir, dp = v[OUT[0]], v[OUT[1]]
    trans = np.array([transition(t, r) for r in dp]); tri = np.array([transition(t, r) for r in ir])
    m26 = ir[:, t <= 2027].max(axis=1); m35 = ir.max(axis=1)
    return trans, tri, m26, m35, dp[:, np.searchsorted(t, 2025.5)]
SKIP = {"strategic threshold", "transition persistence"}
ranged = {v.name: v for v in info.constants.values() if v.low is not None and v.high is not None and v.name not in SKIP
          and "year" not in v.name.lower()}
elements = {}
for name, v in ranged.items():
    for col in (v.elements or (v.name,)):
        ev = info.resolve(col)
        if ev.value is not None: elements[col] = (ev.low, ev.high, ev.value)
print("ranged general+partner constant elements (no dates, no definitions):", len(elements))
b = summ("base", {})
print(f"baseline: DPRK transition {b[0][0]}, Iran transition {b[1][0]}, Iran max commitment to 2026 {b[2][0]:.3f}, to 2035 {b[3][0]:.3f}")
# one at a time, both ends
rows = []
for col, (lo, hi, val) in elements.items():
    for end, x in (("low", lo), ("high", hi)):
        r = summ(col, {col: x}); rows.append((f"{col}={end}", r[0][0], r[1][0], r[2][0], r[3][0]))
df = pd.DataFrame(rows, columns=["set", "dprk", "iran", "iran26", "iran35"])
print(f"OAT {len(df)} runs: DPRK in [2024.5,2025.5] {((df.dprk>=2024.5)&(df.dprk<=2025.5)).mean():.3f}, DPRK strategic by 2035 {df.dprk.notna().mean():.3f}; Iran strategic by 2035 {df.iran.notna().mean():.3f}, Iran strategic by 2026 {(df.iran<=2026.99).mean():.3f}")
print("OAT Iran max commitment 2035: min %.3f max %.3f (%s)" % (df.iran35.min(), df.iran35.max(), df.set[df.iran35.idxmax()]))
print("OAT settings making Iran strategic:", list(df.set[df.iran.notna()])[:8])
print("OAT settings denying DPRK by 2035:", list(df.set[df.dprk.isna()])[:8])
# joint over the whole declared ranges
rng = np.random.default_rng(7); n = 4000
S = {col: rng.uniform(lo, hi, n) for col, (lo, hi, val) in elements.items()}
j = summ("joint", S, n)
print(f"joint uniform over ranges, {n} runs: DPRK strategic by 2035 {np.isfinite(j[0]).mean():.3f}, in window {((j[0]>=2024.5)&(j[0]<=2025.5)).mean():.3f}; Iran strategic by 2035 {np.isfinite(j[1]).mean():.3f}, by 2026 {(j[1]<2027).mean():.3f}; Iran max commitment 2035 range [{j[3].min():.3f}, {j[3].max():.3f}], median {np.median(j[3]):.3f}; DPRK 2025.5 above Iran max-to-2026 in {(j[4]>j[2]).mean():.3f}")
S30 = {col: np.clip(val * rng.uniform(0.7, 1.3, n), lo, hi) for col, (lo, hi, val) in elements.items()}
j = summ("joint30", S30, n)
print(f"joint +-30% of defaults, {n} runs: DPRK in window {((j[0]>=2024.5)&(j[0]<=2025.5)).mean():.3f}, by 2035 {np.isfinite(j[0]).mean():.3f}; Iran strategic by 2035 {np.isfinite(j[1]).mean():.3f}; Iran max 2035 [{j[3].min():.3f}, {j[3].max():.3f}]")
# dated inputs removed in turn (both partners' element to 2100)
dates = [v for v in info.constants.values() if "year" in v.name.lower() and v.name not in ("war end year", "detente year")]
for v in dates:
    cols = v.elements or (v.name,)
    r = summ(v.name, {c: 2100.0 for c in cols})
    print(f"removed {v.name}: DPRK {r[0][0]}, Iran {r[1][0]}, Iran max 2026 {r[2][0]:.3f}, 2035 {r[3][0]:.3f}")
# consequences of commitment cut: no top-tier release, no materiel help, no buffering
cut = {"top tier level": 1.0, "defection buffering": 0.0, "in kind from commitment": 0.0}
mh = [v.name for v in info.constants.values() if v.name == "materiel help level"]
if mh: cut["materiel help level"] = 1.0
for k in list(cut):
    r = summ(k, {k: cut[k]}); print(f"cut {k}={cut[k]}: DPRK {r[0][0]}, DPRK c2025.5 {r[4][0]:.3f} (base {b[4][0]:.3f}), Iran max 2035 {r[3][0]:.3f} (base {b[3][0]:.3f})")
r = summ("all cuts", cut); print(f"all three cut: DPRK {r[0][0]}, DPRK c2025.5 {r[4][0]:.3f}, Iran max 2035 {r[3][0]:.3f}")
