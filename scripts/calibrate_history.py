"""Fit the unsourced constants of the Russia->Iran arms channel to SIPRI 2010-2021 and the article's 481.

Regenerates the values marked "Calibrated" in models/iran_russia.mdl (they are copied by hand,
rounded, into the model file). Usage: python scripts/calibrate_history.py [MAX_EVALUATIONS]
"""
import json
import pathlib
import sys
import time

import numpy as np
from scipy.optimize import least_squares

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))
from defdip.core.model import DEFAULT_MODEL, load_model

m = load_model(DEFAULT_MODEL)
SIPRI = np.array([35,29,11,4,4,4,413,3,3,3,2,0.])
P = {  # name: (x0, lo, hi)
 'gate steepness': (20, 2, 50),
 'political cost tolerance': (0.6, 0.05, 0.9),
 'jcpoa legitimacy effect': (0.8, 0.3, 1),
 'initial ri backlog': (500, 300, 700),
 'iran base arms demand': (20, 1, 100),
 'demand lapse time': (10, 3, 20),
 'contracting time': (0.5, 0.125, 3),
 'base russian willingness': (0.8, 0.2, 1),
 'ri delivery time': (0.5, 0.42, 0.92),
 'initial sanctions pressure': (0.5, 0.3, 0.8),
}
names=list(P); x0=np.array([P[n][0] for n in names]); lo=np.array([P[n][1] for n in names]); hi=np.array([P[n][2] for n in names])
cols=['Cumulative Transfer Value Russia to Iran']
def resid(x):
    r=m.run(params=dict(zip(names,x)), return_columns=cols, final_time=2025.5)
    t=r.index.values; c=r[cols[0]].values
    cv=np.interp(np.arange(2010,2026),t,c); ann=np.diff(cv)
    res=list((ann[:12]-SIPRI)/(20+0.1*SIPRI))
    res.append((cv[-1]-481)/24)
    res.append(max(0, ann[12:15].sum()-40)/10)
    return np.array(res)
t=time.time(); r0=resid(x0); print('run s', time.time()-t, 'cost0', (r0**2).sum())
sol=least_squares(resid, x0, bounds=(lo,hi), x_scale=(hi-lo)/10, diff_step=1e-3, max_nfev=int(sys.argv[1]) if len(sys.argv)>1 else 400)
print('cost', (sol.fun**2).sum(), sol.message)
print(json.dumps(dict(zip(names, [round(float(v),4) for v in sol.x])), indent=1))
