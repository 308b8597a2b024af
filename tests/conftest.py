"""Shared fixtures: a private translation cache, and the baseline run computed once."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Translations go to a temporary cache, never to the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DEFDIP_CACHE_DIR", str(tmp_path_factory.mktemp("defdip-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def run_scenario():
    """Simulate a shipped scenario by stem, once per session."""
    from defdip.core.scenario import load_scenario
    from defdip.engines.simulate import simulate

    done = {}

    def run(stem, **sets):
        key = (stem, tuple(sorted(sets.items())))
        if key not in done:
            scenario = load_scenario(SCENARIOS / f"{stem}.yaml")
            done[key] = simulate(scenario.with_overrides(sets) if sets else scenario)
        return done[key]
    return run


@pytest.fixture(scope="session")
def baseline(run_scenario):
    return run_scenario("baseline")
