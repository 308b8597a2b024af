"""Trend analysis: known parameters recovered, AICc picks the true form, bands, data, the command."""
import json

import numpy as np
import pandas as pd
import pytest

from defdip.analysis.trends import (
    SERIES_FILE,
    aicc,
    analyse,
    fit_all,
    fit_trend,
    load_series,
    predict,
    series_points,
    trends_summary,
)
from defdip.cli.main import main
from defdip.core.errors import InputError

YEARS = np.arange(2010, 2025, dtype=float)  # 15 points, as the article's period


def noisy(values, sd, seed):
    return values + np.random.default_rng(seed).normal(0, sd, len(values))


@pytest.mark.parametrize("seed", range(3))
def test_linear_recovered_and_chosen(seed):
    y = noisy(2.0 + 0.5 * (YEARS - 2010), 0.2, seed)
    fits = fit_all(YEARS, y)
    assert fits[0].form == "linear"
    a, b = fits[0].params
    assert a == pytest.approx(2.0, abs=0.4) and b == pytest.approx(0.5, abs=0.06)


@pytest.mark.parametrize("seed", range(3))
def test_exponential_recovered_and_chosen(seed):
    t = YEARS - 2010
    y = 3.0 * np.exp(0.25 * t) * (1 + np.random.default_rng(seed).normal(0, 0.02, len(t)))
    fits = fit_all(YEARS, y)
    assert fits[0].form == "exponential"
    a, b = fits[0].params
    assert a == pytest.approx(3.0, rel=0.1) and b == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("seed", range(3))
def test_logistic_recovered_and_chosen(seed):
    t = YEARS - 2010
    y = noisy(10 / (1 + np.exp(-1.2 * (t - 7))), 0.15, seed)
    fits = fit_all(YEARS, y)
    assert fits[0].form == "logistic"
    k, r, mid = fits[0].params
    assert k == pytest.approx(10, rel=0.05) and r == pytest.approx(1.2, rel=0.25) and mid == pytest.approx(7, abs=0.3)


def test_aicc_by_hand():
    # n=10, k=2, RSS=10: 10 ln 1 + 4 + 12/7
    assert aicc(10.0, 10, 2) == pytest.approx(4 + 12 / 7)
    assert aicc(1.0, 4, 3) == float("inf")  # n - k - 1 = 0: too few points for the form


def test_too_few_points_for_logistic_never_wins():
    y = np.array([1.0, 2.0, 3.1, 3.9])
    fits = fit_all(np.arange(4.0), y)
    assert fits[0].form != "logistic"


def test_prediction_band_contains_trend_and_widens():
    y = noisy(2.0 + 0.5 * (YEARS - 2010), 0.3, 1)
    fit = fit_trend(YEARS, y, "linear")
    mean, low, high = predict(fit, [2024.0, 2030.0, 2035.0])
    assert (low < mean).all() and (mean < high).all()
    width = high - low
    assert width[0] < width[1] < width[2]
    # At the data the 95 % band covers most observations.
    m, lo, hi = predict(fit, YEARS)
    assert ((y >= lo) & (y <= hi)).mean() >= 0.8


def test_series_file_keeps_sources_and_drops_non_numbers():
    frame = load_series(SERIES_FILE)
    assert {"series", "year", "value", "unit", "source"} <= set(frame.columns)
    years, values = series_points(frame, "sipri_tiv_russia_to_iran")
    assert values[list(years).index(2016)] == 413 and 2022 not in years  # "NOT FOUND" rows dropped
    with pytest.raises(InputError, match="series 'nope' not found"):
        series_points(frame, "nope")


def test_analyse_on_given_trajectories():
    time = np.arange(2010, 2035.25, 0.25)
    traj = pd.DataFrame({"Mutual Trust": 0.2 + 0.02 * (time - 2010),
                         "Arms Transfers Russia to Iran": np.full(len(time), 10.0)}, index=time)
    analysis = analyse(load_series(), traj, historical=("sipri_tiv_russia_to_iran",), indicators=("Mutual Trust",))
    chosen = analysis.table[analysis.table["chosen"]].set_index("series")
    assert chosen.loc["Mutual Trust", "form"] == "linear"
    assert chosen.loc["Mutual Trust", "value_2035"] == pytest.approx(0.7, abs=1e-6)
    summary = trends_summary(analysis, traj)
    assert summary["series"]["Mutual Trust"]["simulated_2035"] == pytest.approx(0.7)
    assert summary["series"]["sipri_tiv_russia_to_iran"]["simulated_2035"] == pytest.approx(10.0)
    assert len(analysis.panels) == 2


def test_trends_command(tmp_path, capsys):
    out = tmp_path / "trends"  # -o is the parent folder; trends names its own
    assert main(["trends", "-o", str(tmp_path)]) == 0
    for name in ("trends.csv", "summary.json", "trends.png", "trends.svg"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert "sipri_tiv_russia_to_iran" in summary["series"] and "Mutual Trust" in summary["series"]
    assert "wrote" in capsys.readouterr().out
    assert main(["trends", "-o", str(tmp_path)]) == 2
