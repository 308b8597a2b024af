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
CUMULATIVE_IR = "Cumulative Transfer Value Iran to Russia"
BACKLOG = "RI Order Backlog"  # Russian arms contracted for Iran (the 2007 S-300 contract in 2010)
CRISIS = "Russian Crisis Support"
MATERIEL = "materiel support"  # the part of crisis support that is arms or advisers
RI_FLOW = "Arms Transfers Russia to Iran"
IR_FLOW = "Arms Transfers Iran to Russia"
INSTITUTIONS = "Institutionalisation"
SANCTIONS = "Sanctions Pressure"
JCPOA = "JCPOA Status"
COMMITMENT = "Strategic Commitment"  # the stock phase 3 is read off
KEY_INDICATORS = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", COMMITMENT, PHASE)
# What a sweep reports for every run unless told otherwise (specs of defdip.analysis.outcomes).
DEFAULT_OUTCOMES = ("transition year", "strategic by 2030", "years in phase 3",
                    "Strategic Commitment@2030", "Cooperation Depth@2030", "Reciprocity@2030")
# The indicators picked out in the structure diagram.
STRUCTURE_INDICATORS = ("Reciprocity", "Cooperation Depth", COMMITMENT, PHASE)
INDICATOR_YEARS = (2022, 2025, 2030, 2035)
# Thresholds drawn on the index panel: constant -> the index it applies to.
THRESHOLDS = {"strategic threshold": COMMITMENT, "two sided threshold": "Reciprocity"}

# --- the run figure's panels ------------------------------------------------------------------
# The two arms flows, the partnership indices, and the slow relational stocks behind them.
# Indices share one 0-1 axis so they can be read against the phase thresholds.
PANELS = (
    ("Arms transfers", ("Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia")),
    ("Partnership indices", ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", COMMITMENT)),
    ("Relational stocks", ("Mutual Trust", "Institutionalisation", "Training and Exercises",
                           "Technical and Industrial Exchange", "Russian Crisis Support")),
)
FAN_VARIABLES = ("Cooperation Depth", "Reciprocity", COMMITMENT)
# Model indicators the trend analysis fits over the article's period.
TREND_INDICATORS = (RI_FLOW, IR_FLOW, "Cooperation Depth", "Mutual Trust", INSTITUTIONS, COMMITMENT)

# --- dated events drawn on figures: label -> the model constant that dates it -----------------
EVENT_CONSTANTS = (
    ("UNSCR 1929", "unscr 1929 year"),
    ("JCPOA", "jcpoa implementation year"),
    ("US JCPOA exit", "us jcpoa exit year"),
    ("war", "war start year"),
    ("treaty", "treaty year"),
    ("snapback", "snapback year"),
    ("war on Iran", "us israel war year"),
)

# --- the historical record (data/series.csv) --------------------------------------------------
SIPRI_SERIES = "sipri_tiv_russia_to_iran"
SIPRI_YEARS = tuple(range(2010, 2022))  # the years SIPRI has Russia->Iran values for (series.csv)
FIT_YEARS = tuple(range(2010, 2019))  # the part of SIPRI_YEARS the calibration fits
HOLDOUT_YEARS = tuple(y for y in SIPRI_YEARS if y not in FIT_YEARS)  # reported out of sample
HOLD_END = "unscr 1929 year"  # the 2007 contract was held until this event, then cancelled
SPIKE_YEAR = 2016  # the S-300 year, which dominates r^2; fit statistics are also given without it
RECORD_WINDOW = (2010, 2024)  # [Year] first and last year of the record the trend analysis fits
CUMULATIVE_TARGET = 481.0  # [Million] the article's 2010-2024 total, unit and window untraced (data/README.md)
CUMULATIVE_YEARS = (2010, 2025)  # 2010-2024 inclusive, as in summary.json
# Historical series long enough to fit a three-parameter trend (domain README: SIPRI TIV to
# 2021, trade turnover 2014-2023; the rest are single values).
TREND_SERIES = (SIPRI_SERIES, "sipri_tiv_iran_total_imports", "trade_turnover_russia_iran")
# Model counterpart of a historical series, where the model has the same quantity (SIPRI TIV is
# the model's unit of value, see the model's .About).
COUNTERPARTS = {SIPRI_SERIES: RI_FLOW}

# --- dated events the baseline must reproduce: (name, date as in data/events.csv, test key) -----
EVENT_TIMINGS = (
    ("S-300 cancelled Sep 2010 after UNSCR 1929: the contract held before, cancelled after", "2010-09-22",
     "cancellation"),
    ("S-300 delivered 2016: annual Russia->Iran peak in 2016", "2016-10", "s300"),
    ("US leaves the JCPOA May 2018: the deal's integrity peaks before", "2018-05-08", "us_exit"),
    ("first Iranian drones Aug 2022: Iran->Russia flow by end-2022", "2022-08", "first_drones"),
    ("E3 snapback Sep 2025: sanctions rise", "2025-09-28", "snapback"),
    ("treaty in force Oct 2025: institutionalisation rises", "2025-10-02", "treaty"),
    ("June 2025 war: Russia condemns, no military help", "2025-06-13", "crisis_2025"),
    ("Feb-Apr 2026 war: Russia condemns, no military help", "2026-02-28", "crisis_2026"),
)
# Findings reported by `defdip validate` next to the record, without a pass/fail criterion:
# the article's reference modes that are the model's result rather than a datum.
PHASE_TWO_WINDOW = (2022.0, 2024.0)  # [Year] the article's "two-sided tactics from 2022-2023" (RM4)

# --- targets after 2022, held out of the calibration: (name, variable, year, low, high, status) --
# Each band is the record's value with its uncertainty; `status` as in data/events.csv.
HELD_OUT_TARGETS = (
    ("Russia->Iran 2022-2024: Yak-130 trainers only (events.csv 2023-09-02)", "ri_2022_2024", None, 0.0, 40.0,
     "verified"),
    ("Alabuga makes ~90% of Shahed-type production by Aug 2025 (events.csv 2025-08-08)",
     "Localised Share of Iranian Designs", 2025.6, 0.75, 0.97, "reported"),
    ("Iranian supplies to Russia under way by end-2022 (events.csv 2022-08, 2022-10)", IR_FLOW, 2022.9, 10.0, None,
     "verified (as US claim)"),
)

# --- extreme conditions: every constant at the end of its range that pushes one way ------------
WORST_CASES = {
    "maximum conflict": {"war start year": 2010, "war end year": 2100, "peak war intensity": 1,
                         "escalation rate": 12, "war fatigue rate": 0, "western pressure multiplier": 2,
                         "arms trade sanctions sensitivity": 1, "arms trade sanctions cap": 1,
                         "israel iran war severity": 1, "israeli strikes severity": 1,
                         "us israel war severity": 1, "war 2026 damage": 0.7},
    "no restraint": {"western heed": 0, "russia regional ties": 0, "gate steepness": 100,
                     "political cost tolerance": 1.5, "iran export capacity": 1500,
                     "initial ri backlog": 2000, "iran base arms demand": 20,
                     "reliance effect on willingness": 3, "need effect on willingness": 3,
                     "top tier release onset": 0.2, "top tier release full": 0.3,
                     "crisis support from commitment": 1.5, "crisis restraint": 0},
}

# --- external drivers a reality check may cover, with the constants through which each acts ----
DRIVERS = {
    "sanctions": ("nuclear sanctions weight", "embargo weight"),
    "JCPOA": ("jcpoa agreement year", "us jcpoa exit year", "jcpoa restoration year"),
    "snapback": ("snapback year",),
    "UN arms embargo": ("unscr 1929 year", "un arms restrictions expiry year"),
    "war": ("war start year", "war end year", "war fatigue rate"),
    "western pressure": ("western pressure multiplier", "arms trade sanctions sensitivity"),
    "Israel-Iran war": ("israel iran war year", "us israel war year", "third iran war year"),
    "Syria": ("syria intervention year", "syria campaign end year"),
    "treaty": ("treaty year", "military agreement year"),
    "detente": ("detente year", "detente recovery"),
    "advanced arms": ("advanced arms order year", "advanced arms order size"),
    "North Korea": ("nk supply start year", "nk max share"),
    "Tehran transition": ("tehran transition year", "tehran reorientation"),
}

# --- the verdict's definitions, varied by `defdip robustness` (constants of the model) --------
STRATEGIC_THRESHOLD = "strategic threshold"
INDEX_AGGREGATION = "index aggregation"  # read rounded: 1 arithmetic, 2 geometric mean, 3 minimum
AGGREGATIONS = {1.0: "weighted arithmetic mean", 2.0: "weighted geometric mean", 3.0: "minimum"}
RECIPROCITY_FLOOR = "reciprocity volume floor"
FLOORS = {0.0: "no volume floor", 30.0: "volume floor 30"}  # [Million/Year] 30: a typical pre-2010 year
PERSISTENCES = (1.0, 2.0, 3.0, 4.0)  # [Year] transition persistence compared
VERDICT_YEARS = (2030, 2035)  # P(strategic by YEAR) reported per definition
