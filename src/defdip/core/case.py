"""The facts of this case: the Iran-Russia model's indicator names, phases, panels and record.

Everything specific to ``models/iran_russia.mdl`` that the generic code needs lives here,
once, and is passed to the generic functions as arguments or defaults. A different model
changes this module, not the engines, analyses or figures.
"""
from __future__ import annotations

# --- the model's indicators and phases --------------------------------------------------------
PHASE = "Partnership Phase"
STRATEGIC = 3  # value of PHASE in the strategic phase
PHASES = (1, 2, 3)
PHASE_LABELS = {1: "1 tactical, one-sided", 2: "2 tactical, two-sided", 3: "3 strategic"}
PERSISTENCE = "transition persistence"  # the constant: years phase 3 must hold
DEFAULT_PERSISTENCE = 2.0  # [Year] its value where a model does not declare it
CUMULATIVE_RI = "Cumulative Transfer Value Russia to Iran"
KEY_INDICATORS = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", PHASE)
INDICATOR_YEARS = (2022, 2025, 2030, 2035)
# Thresholds drawn on the index panel: constant -> the index it applies to.
THRESHOLDS = {"strategic threshold": "Strategic Partnership Index", "two sided threshold": "Reciprocity"}

# --- the run figure's panels ------------------------------------------------------------------
# The two arms flows, the partnership indices, and the slow relational stocks behind them.
# Indices share one 0-1 axis so they can be read against the phase thresholds.
PANELS = (
    ("Arms transfers", ("Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia")),
    ("Partnership indices", ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index")),
    ("Relational stocks", ("Mutual Trust", "Institutionalisation", "Training and Exercises",
                           "Technical and Industrial Exchange")),
)
FAN_VARIABLES = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index")

# --- dated events drawn on figures: label -> the model constant that dates it -----------------
# The S-300 was delivered once the nuclear deal was in force (model: `jcpoa legitimacy
# effect`, events.csv rows 13, 14), so the model dates it by JCPOA Implementation Day.
EVENT_CONSTANTS = (
    ("S-300 delivery", "jcpoa implementation year"),
    ("US JCPOA exit", "us jcpoa exit year"),
    ("war", "war start year"),
    ("treaty", "treaty year"),
    ("snapback", "snapback year"),
)

# --- the historical record (data/series.csv) --------------------------------------------------
SIPRI_SERIES = "sipri_tiv_russia_to_iran"
SIPRI_YEARS = tuple(range(2010, 2022))  # the years SIPRI has Russia->Iran values for (series.csv)
RECORD_WINDOW = (2010, 2024)  # [Year] first and last year of the record the trend analysis fits
CUMULATIVE_TARGET = 481.0  # [Million] the article's 2010-2024 total (domain README)
CUMULATIVE_YEARS = (2010, 2025)  # 2010-2024 inclusive, as in summary.json
