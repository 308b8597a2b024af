"""defdip: a system-dynamics model of Iran-Russia defense diplomacy, 2010-2035.

The documented Python API, as ``pysd.read_vensim`` / ``pysd.load`` are PySD's::

    import defdip

    scenario = defdip.load_scenario("baseline")                # a shipped name, or a YAML file
    result = defdip.simulate(scenario, "ensemble")             # .trajectories: a DataFrame indexed by time
    runs = defdip.simulate_batch(scenario, samples)            # xarray.Dataset, dims (run, time)
    plan = defdip.plan_sweep(scenario, "sobol", 64, seed=1)    # a validated sample table
    folder = defdip.run_sweep(plan, "results")                 # results/baseline-sobol-seed1
    loops = defdip.dominance(scenario)                         # Loops That Matter, per loop and time
    boxes = defdip.discover(samples, outcomes, "transition year <= 2032")

Each name is imported on first use (PEP 562), so ``import defdip`` stays as cheap as the command line
needs, and each stays defined once, in its own room (listed in ``API``).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it
API = {
    "InputError": "defdip.core.errors",
    "Scenario": "defdip.core.scenario",
    "load_scenario": "defdip.core.scenario",
    "scenario_from_model": "defdip.core.scenario",
    "model_info": "defdip.core.model",
    "simulate": "defdip.engines.simulate",
    "simulate_batch": "defdip.engines.simulate",
    "to_dataset": "defdip.engines.simulate",
    "summarise": "defdip.analysis.phases",
    "transition_year": "defdip.analysis.phases",
    "causal_graph": "defdip.analysis.structure",
    "dominance": "defdip.analysis.dominance",
    "discover": "defdip.analysis.discovery",
    "build_problem": "defdip.sweep.sampling",
    "plan_sweep": "defdip.sweep.plan",
    "open_results": "defdip.sweep.store",
    "run_sweep": "defdip.io.sweep_folder",
    "run_to_folder": "defdip.io.pipeline",
}

__all__ = ["__version__", *API]


def __getattr__(name: str):
    module = API.get(name)
    if module is None:
        raise AttributeError(f"module 'defdip' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
