"""Tests for defdip.analysis.structure: the causal graph, the documented loops, the figure."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import networkx as nx
import pytest

from defdip.analysis import structure as diagram
from defdip.core.case import CUMULATIVE_RI
from defdip.core.model import DEFAULT_MODEL
from defdip.figures import structure as diagram_figure

TEACUP = Path(__file__).resolve().parent / "models" / "golden" / "teacup" / "teacup.mdl"
# The loops the model's .About group documents, read from models/iran_russia.mdl by hand.
PROJECT_LOOP_LABELS = ("R1 reciprocity", "R2 shared isolation", "R3 commitment", "R4 crisis solidarity",
                       "R5 institutional deepening", "B1 sanctions gate", "B2 Russian balancing",
                       "B3 localisation", "B4 war termination", "B5 second supplier")
PROJECT_LOOPS = tuple(label.split()[0] for label in PROJECT_LOOP_LABELS)

# A logistic population: births feed Population (R1), crowding restrains births (B1).
# "noise" uses a constant only, so a loop documented through it is broken.
TINY_MDL = """{UTF-8}
********************************************************
\t.About
********************************************************~
\t\tA tiny test model.
\t\t
\t\tFeedback loops:
\t\tR1 growth: Population -> births -> Population.
\t\tB1 crowding: POPULATION -> Crowding -> births -> population, slowing growth
\t\tas the capacity fills (a note -> not a link).
\t\tB2 broken: Population -> noise -> Population.
\t\tR3 loose: Population -> the number of births -> Population.
\t\tR4 parallel: births -> Population -> crowding and noise -> births.
\t|

Population = INTEG (
\tbirths,
\t\t10)
\t~\tPeople [0,?]
\t~\tThe stock.
\t|

births = Population * birth fraction * (1 - crowding)
\t~\tPeople/Year
\t~\tThe inflow.
\t|

crowding = Population / capacity
\t~\tDmnl
\t~\tShare of capacity used.
\t|

noise = birth fraction * 2
\t~\t1/Year
\t~\tOn no loop.
\t|

birth fraction = 0.1
\t~\t1/Year [0,1]
\t~\tAssumption.
\t|

capacity = 100
\t~\tPeople [1,?]
\t~\tAssumption.
\t|

********************************************************
\t.Control
********************************************************~
\t\tSimulation control parameters.
\t|

INITIAL TIME = 0
\t~\tYear
\t~\tStart.
\t|

FINAL TIME = 10
\t~\tYear
\t~\tEnd.
\t|

TIME STEP = 0.25
\t~\tYear [0,?]
\t~\tStep.
\t|

SAVEPER = TIME STEP
\t~\tYear [0,?]
\t~\tOutput interval.
\t|
"""


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    """Translations go to a temporary directory, not the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEFDIP_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.mdl"
    path.write_text(TINY_MDL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project_graph():
    return diagram.causal_graph(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def project_loops():
    return diagram.named_loops(DEFAULT_MODEL)


# --- causal_graph ---------------------------------------------------------


def test_teacup_flow_feeds_its_stock():
    graph = diagram.causal_graph(TEACUP)
    assert graph.has_edge("Heat Loss to Room", "Teacup Temperature")
    assert graph.edges["Heat Loss to Room", "Teacup Temperature"]["link"] == "flow"
    assert graph.has_edge("Teacup Temperature", "Heat Loss to Room")
    assert graph.nodes["Teacup Temperature"]["kind"] == "stock"
    assert graph.nodes["Heat Loss to Room"]["kind"] == "flow"


def test_teacup_leaves_out_control_and_time():
    graph = diagram.causal_graph(TEACUP, include_constants=True)
    for name in ("TIME STEP", "SAVEPER", "INITIAL TIME", "FINAL TIME", "Time"):
        assert name not in graph


@pytest.mark.parametrize("include_constants", [False, True], ids=["no-constants", "constants"])
def test_teacup_constants_only_on_request(include_constants):
    graph = diagram.causal_graph(TEACUP, include_constants=include_constants)
    assert ("Room Temperature" in graph) is include_constants
    if include_constants:
        assert graph.nodes["Room Temperature"]["kind"] == "constant"
        assert graph.has_edge("Room Temperature", "Heat Loss to Room")


def test_kinds_of_the_tiny_model(tiny):
    graph = diagram.causal_graph(tiny)
    assert dict(graph.nodes(data="kind")) == {
        "Population": "stock", "births": "flow", "crowding": "auxiliary", "noise": "auxiliary"}
    assert set(graph.edges) == {("Population", "births"), ("births", "Population"),
                                ("Population", "crowding"), ("crowding", "births")}


def test_every_kind_is_a_known_one(project_graph):
    assert {kind for _, kind in project_graph.nodes(data="kind")} <= set(diagram.KINDS)


# --- named_loops and check_loops ------------------------------------------


def test_named_loops_reads_codes_titles_and_chains(tiny):
    loops = diagram.named_loops(tiny)
    assert loops == {
        "R1 growth": ["Population", "births"],
        "B1 crowding": ["POPULATION", "Crowding", "births"],
        "B2 broken": ["Population", "noise"],
        "R3 loose": ["Population", "the number of births"],
        "R4 parallel": ["births", "Population", "crowding and noise"],
    }


def test_named_loops_without_about_group_is_empty():
    assert diagram.named_loops(TEACUP) == {}


@pytest.mark.parametrize("label, missing", [
    ("R1 growth", []),
    ("B1 crowding", []),
    ("B2 broken", [("Population", "noise"), ("noise", "Population")]),
    ("R3 loose", [("Population", "the number of births"), ("the number of births", "Population")]),
    ("R4 parallel", [("Population", "noise"), ("noise", "births")]),
], ids=["present", "present-any-case", "broken", "loose-name", "parallel-links"])
def test_check_loops(tiny, label, missing):
    graph = diagram.causal_graph(tiny)
    loops = diagram.named_loops(tiny)
    assert diagram.check_loops(graph, {label: loops[label]}) == {label: missing}


def test_loop_polarity():
    assert diagram.loop_polarity("R2 shared isolation") == "reinforcing"
    assert diagram.loop_polarity("B4 war termination") == "balancing"


def test_project_documents_ten_loops(project_loops):
    assert tuple(project_loops) == PROJECT_LOOP_LABELS


# --- the documented loops against the equations, read here from the .mdl text --------------
#
# A documented chain names the stocks and the variables that matter; the module collapses the
# rest (key_structure: a link runs through variables the chain drops). So a link A -> B of a
# chain holds when B's equation uses A, or uses it through auxiliaries and flows the chain does
# not name, or through the stock a named flow B drains (a pipeline: contracting -> backlog ->
# deliveries). A stock's equation uses its flows, not the variables of its initial value.


def _norm(text: str) -> str:
    text = re.sub(r"\\\s*\n", " ", text)  # Vensim's line continuation
    return " ".join(text.replace("_", " ").lower().split())


def _rate_of_integ(expression: str) -> str:
    """The first argument of ``INTEG(rate, initial)``, else the whole expression."""
    match = re.match(r"\s*integ\s*\(", expression, flags=re.IGNORECASE)
    if not match:
        return expression
    depth, body = 1, expression[match.end():]
    for i, char in enumerate(body):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 1 and char == ",":
            return body[:i]
    raise AssertionError(f"unbalanced INTEG: {expression!r}")


def equation_uses(model_path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """``(uses, stocks)``: each variable -> the variables its equation names; the stocks. Names
    are lower case with single spaces; longer names are matched first, so "indicated trust" is
    not read as a use of "trust"."""
    text = Path(model_path).read_text(encoding="utf-8").split("\\\\\\---///")[0]
    equations, stocks = {}, set()
    for piece in text.replace("{UTF-8}", "").split("|"):
        head = piece.split("~", 1)[0]
        if "=" not in head or head.lstrip().startswith("*"):
            continue
        left, expression = head.split("=", 1)
        name = _norm(left.split("[")[0])
        if re.match(r"\s*integ\s*\(", expression, flags=re.IGNORECASE):
            stocks.add(name)
        equations[name] = _norm(_rate_of_integ(expression))
    by_length = sorted(equations, key=len, reverse=True)
    uses = {}
    for name, expression in equations.items():
        found = set()
        for other in by_length:
            pattern = rf"(?<![\w\x00]){re.escape(other)}(?![\w\x00])"
            if re.search(pattern, expression):
                found.add(other)
                expression = re.sub(pattern, "\x00", expression)
        uses[name] = found - {name}
    return uses, stocks


def missing_direct_links(uses, stocks, chain) -> list[tuple[str, str]]:
    """Links of a chain (the last wrapping to the first) that the equations do not make,
    with the collapsing described above. An element "A and B" stands for both."""
    named = [[_norm(n) for n in re.split(r"\s+and\s+", element)] if _norm(element) not in uses
             else [_norm(element)] for element in chain]
    on_chain = {n for element in named for n in element}
    users = nx.DiGraph([(used, user) for user, used_set in uses.items() for used in used_set])
    gaps = []
    for here, there in zip(named, named[1:] + named[:1]):
        for a, b in itertools.product(here, there):
            drained = {s for s in stocks if b in uses.get(s, ()) and s in uses.get(b, ())}
            allowed = {n for n in users if n not in stocks and n not in on_chain} | drained | {a, b}
            sub = users.subgraph(allowed)
            if a not in sub or b not in sub or not nx.has_path(sub, a, b):
                gaps.append((a, b))
    return gaps


@pytest.fixture(scope="module")
def project_equations():
    return equation_uses(DEFAULT_MODEL)


def test_equation_reader_on_the_tiny_model(tiny):
    uses, stocks = equation_uses(tiny)
    assert stocks == {"population"}
    assert uses["births"] == {"population", "birth fraction", "crowding"}
    assert uses["population"] == {"births"} and uses["noise"] == {"birth fraction"}
    assert missing_direct_links(uses, stocks, ["Population", "births"]) == []
    assert missing_direct_links(uses, stocks, ["Population", "noise"]) == [("population", "noise"),
                                                                          ("noise", "population")]


def test_every_documented_loop_is_in_the_structure(project_graph, project_loops, project_equations):
    uses, stocks = project_equations
    for label, chain in project_loops.items():
        assert missing_direct_links(uses, stocks, chain) == [], label
    assert diagram.check_loops(project_graph, project_loops) == {label: [] for label in project_loops}


def test_the_causal_graph_has_every_use_the_equations_make(project_graph, project_equations):
    """causal_graph (PySD's dependencies) against the equation text, between non-constants."""
    uses, _ = project_equations
    index = {_norm(n): n for n in project_graph}
    from_text = {(index[u], index[v]) for v, used in uses.items() for u in used if u in index and v in index}
    assert from_text == set(project_graph.edges)


@pytest.mark.parametrize("corrupt", ["reversed", "swapped", "replaced"])
def test_a_corrupted_loop_is_not_in_the_structure(project_loops, project_equations, corrupt):
    uses, stocks = project_equations
    for label, chain in project_loops.items():
        if len(chain) < 3:
            continue  # a two-variable loop reads the same both ways
        # replaced: a second element that influences nothing (a running total, a sink)
        bad = {"reversed": chain[::-1], "swapped": [chain[1], chain[0], *chain[2:]],
               "replaced": [chain[0], CUMULATIVE_RI, *chain[2:]]}[corrupt]
        assert missing_direct_links(uses, stocks, bad), (label, bad)


def test_random_chains_through_the_feedback_core_are_not_loops(project_graph, project_equations):
    """Any six variables of the big strongly connected component pass a has_path check; not this one."""
    import random

    uses, stocks = project_equations
    core = sorted(max(nx.strongly_connected_components(project_graph), key=len))
    assert len(core) > 40
    rng = random.Random(7)
    for _ in range(25):
        chain = rng.sample(core, 6)
        assert missing_direct_links(uses, stocks, chain), chain


def test_every_loop_name_is_a_variable(project_graph, project_loops):
    for label, chain in project_loops.items():
        for element in diagram.resolve_chain(project_graph, chain):
            assert all(name in project_graph for name in element), (label, element)


# --- key structure and figure ---------------------------------------------


def test_key_structure_collapses_through_dropped_auxiliaries(tiny):
    graph = diagram.causal_graph(tiny)
    key = diagram.key_structure(graph, {"R1 growth": ["Population", "births"]})
    assert set(key) == {"Population", "births"}
    assert key.edges["births", "Population"] == {"link": "flow", "loops": ["R1"]}
    # Population -> crowding -> births: crowding is dropped, the influence stays.
    assert key.has_edge("Population", "births")


def test_key_structure_of_the_project(project_graph, project_loops, project_equations):
    key = diagram.key_structure(project_graph, project_loops, extra=diagram_figure.INDICATORS)
    stocks = {n for n, kind in project_graph.nodes(data="kind") if kind == "stock"}
    assert stocks <= set(key)
    on_loops = {n for chain in project_loops.values() for element in diagram.resolve_chain(project_graph, chain)
                for n in element}
    assert on_loops <= set(key)
    assert set(diagram_figure.INDICATORS) <= set(key)
    # Much smaller than the model: under half of the variables the .mdl defines (read from its text).
    uses, _ = project_equations
    assert len(key) < len(uses) / 2
    # Read from the .mdl: indicated commitment = commitment grounds * (...), and commitment grounds
    # (on no documented chain) combines Sustained Reciprocity and Mutual Trust. The auxiliary is
    # dropped, its influence stays, as the R3 and R4 links.
    assert "commitment grounds" not in key
    assert key.edges["Sustained Reciprocity", "indicated commitment"] == {"link": "info", "loops": ["R3"]}
    assert key.edges["Mutual Trust", "indicated commitment"] == {"link": "info", "loops": ["R4"]}
    # sanctions imposition is the inflow of Sanctions Pressure, on both R2 and B1.
    assert key.edges["sanctions imposition", "Sanctions Pressure"]["link"] == "flow"
    assert sorted(key.edges["sanctions imposition", "Sanctions Pressure"]["loops"]) == ["B1", "R2"]


def test_layout_places_every_key_variable_without_overlap(project_graph, project_loops):
    key = diagram.key_structure(project_graph, project_loops, extra=diagram_figure.INDICATORS)
    pos = diagram_figure.structure_layout(key.nodes)
    unplaced = sorted(n for n, (_, y) in pos.items() if y < 0)
    assert not unplaced, f"add to the hand layout: {unplaced}"
    boxes = diagram_figure.node_boxes(key, pos)
    for (a, ba), (b, bb) in itertools.combinations(boxes.items(), 2):
        apart = ba[2] <= bb[0] or bb[2] <= ba[0] or ba[3] <= bb[1] or bb[3] <= ba[1]
        assert apart, f"{a!r} and {b!r} overlap"


def test_layout_marks_every_named_loop_off_the_boxes(project_graph, project_loops):
    """One mark per documented loop, none on a label box, every box on the canvas."""
    key = diagram.key_structure(project_graph, project_loops, extra=diagram_figure.INDICATORS)
    boxes = diagram_figure.node_boxes(key, diagram_figure.structure_layout(key.nodes))
    ax = diagram_figure.draw_structure(project_graph, project_loops)
    marks = {t.get_text().split("\n")[1]: t.get_position() for t in ax.texts if t.get_text().startswith("\u21bb")}
    assert sorted(marks) == sorted(PROJECT_LOOPS)
    for code, (x, y) in marks.items():
        on = [n for n, (x0, y0, x1, y1) in boxes.items() if x0 <= x <= x1 and y0 <= y <= y1]
        assert not on, f"mark {code} sits on {on}"
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    for name, (x0, y0, x1, y1) in boxes.items():
        assert left <= x0 and x1 <= right and bottom <= y0 and y1 <= top, name


def test_draw_structure_on_given_axes(project_graph, project_loops):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    assert diagram_figure.draw_structure(project_graph, project_loops, ax=ax) is ax
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # R and B from each label's code, as the .About group documents them.
    expected = [f"{label} ({'reinforcing' if label[0] == 'R' else 'balancing'})" for label in PROJECT_LOOP_LABELS]
    assert legend[-len(expected):] == expected
    assert "R4 crisis solidarity (reinforcing)" in legend and "B5 second supplier (balancing)" in legend


def test_draw_structure_places_unknown_variables_below(tiny):
    graph = diagram.causal_graph(tiny)
    ax = diagram_figure.draw_structure(graph, diagram.named_loops(tiny))
    assert ax.get_ylim()[0] < 0


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_write_structure_figure(tmp_path, suffix, magic):
    out = diagram_figure.write_structure_figure(DEFAULT_MODEL, tmp_path / "fig" / f"structure{suffix}")
    assert out.read_bytes().startswith(magic)
    if suffix == ".png":
        from matplotlib.image import imread

        assert imread(out).shape[:2] == (1400, 2300)  # the 23 x 14 inch layout at 100 dpi


def test_a_documented_loop_through_two_dimensions_is_one_loop_per_consistent_combination():
    """``Supply[partner, munition] -> Reliance[partner] -> Supply``: one loop per partner and
    munition, each element of a dimension the same along the loop; never Iran's reliance with
    North Korea's supply."""
    import networkx as nx

    from defdip.analysis.structure import per_element

    graph = nx.DiGraph()
    for p in ("Iran", "DPRK"):
        for m in ("artillery", "strike"):
            graph.add_edge(f"Supply[{p},{m}]", f"Reliance[{p}]")
            graph.add_edge(f"Reliance[{p}]", f"Supply[{p},{m}]")
    loops = per_element(graph, "R6 need", ["Supply", "Reliance"])
    assert loops == {f"R6 need[{p},{m}]": [f"Supply[{p},{m}]", f"Reliance[{p}]"]
                     for p in ("Iran", "DPRK") for m in ("artillery", "strike")}
