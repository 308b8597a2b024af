"""Units check: a tiny model with a units error is caught; the shipped model is consistent."""
from conftest import ROOT

from defdip.analysis.units import check_units

TINY = """{UTF-8}
Stock = INTEG(inflow - outflow, 10)
\t~\tWidget
\t~\t|
inflow = rate * Stock
\t~\tWidget/Year
\t~\t|
outflow = Stock / delay + share
\t~\tWidget/Year
\t~\t|
rate = 0.1
\t~\t1/Year
\t~\t|
delay = 2
\t~\tYear
\t~\t|
share = MIN(1, Stock)
\t~\tDmnl
\t~\t|
level = IF THEN ELSE(Time > 2005, Stock, 0) + MAX(0, Stock - 1)
\t~\tWidget
\t~\t|
INITIAL TIME = 2000
\t~\tYear
\t~\t|
FINAL TIME = 2010
\t~\tYear
\t~\t|
TIME STEP = 0.25
\t~\tYear
\t~\t|
SAVEPER = TIME STEP
\t~\tYear
\t~\t|
"""


def _write(tmp_path, text):
    path = tmp_path / "tiny.mdl"
    path.write_text(text)
    return path


def test_units_errors_are_caught_with_equation_and_both_units(tmp_path):
    found = {m.variable: m for m in check_units(_write(tmp_path, TINY))}
    assert set(found) == {"outflow", "share", "level"}
    assert found["level"].where == "-"  # Stock - 1; Time > 2005 is fine
    assert found["outflow"].where == "+"
    assert {found["outflow"].expected, found["outflow"].found} == {"Widget/Year", "Dmnl"}
    assert "Stock / delay + share" in found["outflow"].message()
    assert found["share"].where == "MIN"


def test_consistent_tiny_model_passes(tmp_path):
    fixed = TINY.replace("Stock / delay + share", "Stock / delay").replace("MIN(1, Stock)", "MIN(1, rate * delay)")
    fixed = fixed.replace("Stock - 1", "Stock - inflow * delay")
    assert check_units(_write(tmp_path, fixed)) == []


def test_stock_flow_units_are_checked(tmp_path):
    broken = TINY.replace("Stock / delay + share", "Stock / delay").replace("MIN(1, Stock)", "1")
    broken = broken.replace("Stock - 1", "Stock")
    broken = broken.replace("inflow = rate * Stock", "inflow = rate * Stock * delay")
    (mismatch,) = check_units(_write(tmp_path, broken))
    assert mismatch.variable == "inflow"


def test_shipped_model_is_consistent():
    assert check_units(ROOT / "models" / "iran_russia.mdl") == []


def test_units_error_in_shipped_copy_is_reported(tmp_path):
    """ri preparation time [Year] is read twice in the model file: the stock RI Arms in Preparation
    starts at pre 2010 delivery rate [Million/Year] * it, and Arms Transfers Russia to Iran
    [Million/Year] = RI Arms in Preparation [Million] / it. Declared Dmnl, both go wrong."""
    text = (ROOT / "models" / "iran_russia.mdl").read_text()
    declared = "ri preparation time = 0.5\n\t~\tYear"
    assert declared in text
    text = text.replace(declared, "ri preparation time = 0.5\n\t~\tDmnl")
    found = {m.variable: m for m in check_units(_write(tmp_path, text))}
    assert set(found) == {"Arms Transfers Russia to Iran", "RI Arms in Preparation"}
    assert {found["Arms Transfers Russia to Iran"].expected, found["Arms Transfers Russia to Iran"].found} == \
        {"Million/Year", "Million"}
    assert {found["RI Arms in Preparation"].expected, found["RI Arms in Preparation"].found} == \
        {"Million/Year", "Million"}
    assert "initial value" in found["RI Arms in Preparation"].message()
