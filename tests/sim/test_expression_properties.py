"""Property tests: any string survives JSON-style escaping inside a filter literal."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pendo_sim.expressions import EvalContext, compile_predicate, evaluate

CTX = EvalContext(now_ms=0, date_fn=lambda *a: 0)


def escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_literal_round_trips(s):
    assert evaluate('"' + escape(s) + '"', CTX) == s
    assert evaluate(json.dumps(s), CTX) == s  # JSON escapes (\\uXXXX, \\n, ...) too
    assert compile_predicate('visitorId == "' + escape(s) + '"', CTX)({"visitorId": s})


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_string_order_is_code_point_order(a, b):
    got = compile_predicate("x < y", CTX)({"x": a, "y": b})
    assert got is (a < b)


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_integer_arithmetic(a, b, c):
    assert evaluate(f"{a} + {b} * {c}".replace("+ -", "- "), CTX) == a + b * c
