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
RI_FLOW = "Arms Transfers Russia to Iran"
IR_FLOW = "Arms Transfers Iran to Russia"
INSTITUTIONS = "Institutionalisation"
SANCTIONS = "Sanctions Pressure"
JCPOA = "JCPOA Status"
KEY_INDICATORS = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", PHASE)
# What a sweep reports for every run unless told otherwise (specs of defdip.analysis.outcomes).
DEFAULT_OUTCOMES = ("transition year", "strategic by 2030", "years in phase 3",
                    "Strategic Partnership Index@2030", "Cooperation Depth@2030", "Reciprocity@2030")
# The indicators picked out in the structure diagram.
STRUCTURE_INDICATORS = ("Reciprocity", "Cooperation Depth", "Strategic Partnership Index", PHASE)
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
# Model indicators the trend analysis fits over the article's period.
TREND_INDICATORS = (RI_FLOW, IR_FLOW, "Cooperation Depth", "Mutual Trust", INSTITUTIONS,
                    "Strategic Partnership Index")

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
# Historical series long enough to fit a three-parameter trend (domain README: SIPRI TIV to
# 2021, trade turnover 2014-2023; the rest are single values).
TREND_SERIES = (SIPRI_SERIES, "sipri_tiv_iran_total_imports", "trade_turnover_russia_iran")
# Model counterpart of a historical series, where the model has the same quantity (SIPRI TIV is
# the model's unit of value, see the model's .About).
COUNTERPARTS = {SIPRI_SERIES: RI_FLOW}

# --- dated events the baseline must reproduce: (name, date as in data/events.csv, test key) -----
EVENT_TIMINGS = (
    ("S-300 delivered 2016: annual Russia->Iran peak in 2016", "2016-10", "s300"),
    ("US leaves the JCPOA May 2018: the deal's integrity peaks before", "2018-05-08", "us_exit"),
    ("first Iranian drones Aug 2022: Iran->Russia flow by end-2022", "2022-08", "first_drones"),
    ("two-sided tactics from 2022-2023", "2022-08", "phase_two"),
    ("E3 snapback Sep 2025: sanctions rise", "2025-09-28", "snapback"),
    ("treaty in force Oct 2025: institutionalisation rises", "2025-10-02", "treaty"),
)

# --- extreme conditions: every constant at the end of its range that pushes one way ------------
WORST_CASES = {
    "maximum conflict": {"war start year": 2010, "war end year": 2100, "peak war intensity": 1,
                         "escalation rate": 12, "war fatigue rate": 0, "western pressure multiplier": 2,
                         "arms trade sanctions sensitivity": 1, "arms trade sanctions cap": 1,
                         "israel iran war severity": 1, "israeli strikes severity": 1},
    "no restraint": {"western heed": 0, "russia regional ties": 0, "gate steepness": 100,
                     "political cost tolerance": 1, "iran export capacity": 3000,
                     "initial ri backlog": 2000, "iran base arms demand": 500,
                     "reliance effect on willingness": 3, "need effect on willingness": 3},
}

# --- external drivers a reality check may cover, with the constants through which each acts ----
DRIVERS = {
    "sanctions": ("initial sanctions pressure", "nuclear sanctions weight", "embargo weight"),
    "JCPOA": ("jcpoa agreement year", "us jcpoa exit year", "jcpoa restoration year"),
    "snapback": ("snapback year",),
    "UN arms embargo": ("unscr 1929 year", "un arms restrictions expiry year"),
    "war": ("war start year", "war end year", "war fatigue rate"),
    "western pressure": ("western pressure multiplier", "arms trade sanctions sensitivity"),
    "Israel-Iran war": ("israel iran war year", "renewed israel iran war year"),
    "Syria": ("syria intervention year", "syria campaign end year"),
    "treaty": ("treaty year", "military agreement year"),
    "detente": ("detente year", "detente recovery"),
    "advanced arms": ("advanced arms order year", "advanced arms order size"),
}

# --- the verdict's definitions, varied by `defdip robustness` (constants of the model) --------
STRATEGIC_THRESHOLD = "strategic threshold"
INDEX_AGGREGATION = "index aggregation"  # read rounded: 1 arithmetic, 2 geometric mean, 3 minimum
AGGREGATIONS = {1.0: "weighted arithmetic mean", 2.0: "weighted geometric mean", 3.0: "minimum"}
RECIPROCITY_FLOOR = "reciprocity volume floor"
FLOORS = {0.0: "no volume floor", 0.5: "volume floor 0.5"}  # 0.5: each direction's reference flow
PERSISTENCES = (1.0, 2.0, 3.0, 4.0)  # [Year] transition persistence compared
VERDICT_YEARS = (2030, 2035)  # P(strategic by YEAR) reported per definition
