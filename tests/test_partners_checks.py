"""The two-partner model's reality checks (models/russia_partners.checks.yaml), run as
`defdip validate partners_baseline` runs them, on the compiled engine."""
from __future__ import annotations

import dataclasses

import pytest

from defdip.core.resources import MODELS_DIR, SCENARIO_DIR, checks_file
from defdip.core.scenario import load_scenario
from defdip.validation.checks import run_checks
from defdip.validation.checks_file import coverage, load_checks

CHECKS = MODELS_DIR / "russia_partners.checks.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO_DIR / "partners" / "partners_baseline.yaml")


@pytest.fixture(scope="module")
def checks(scenario):
    return load_checks(CHECKS, scenario.model)


def test_the_partner_models_checks_are_found_beside_it(scenario):
    assert checks_file(scenario.model).resolve() == CHECKS.resolve() and CHECKS.is_file()


def test_every_check_passes_on_the_baseline(scenario, checks):
    results = run_checks(checks, scenario, engine="ensemble")
    failing = {r.check.name: [p.detail for p in r.results if not p.passed] for r in results if not r.passed}
    assert not failing, failing
    assert len(results) >= 40


def test_every_named_loop_and_driver_is_covered(scenario, checks):
    covered = coverage(checks, scenario.model)
    assert {"R1", "R3", "R7", "B1", "B3", "war", "sanctions", "treaty"} <= set(covered)
    assert not [name for name, by in covered.items() if not by]


def test_the_checks_can_fail(scenario, checks):
    """Without the war the record's North Korean shells of 2023 do not come: its check fails."""
    no_war = dataclasses.replace(scenario, constants={**scenario.constants, "war start year": 2100})
    named = [c for c in checks if c.name == "no North Korean supplies before 2023, shells from the second half of 2023"]
    assert len(named) == 1
    (result,) = run_checks(named, no_war, engine="ensemble")
    assert not result.passed
