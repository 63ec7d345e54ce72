"""Unit tests of the filter/expression parser."""

import pytest

from pendo_sim.expressions import (
    EvalContext,
    ExpressionError,
    compile_predicate,
    evaluate,
    path_bounds_exact,
    tokenize,
)
from pendo_sim.timeutil import SubscriptionClock

CLOCK = SubscriptionClock("America/New_York")
CTX = EvalContext(now_ms=1_700_000_000_000, date_fn=CLOCK.date_ms, add_fn=CLOCK.date_add)
ROW = {
    "visitorId": 'quote"visitor',
    "n": 5,
    "f": 2.5,
    "b": True,
    "s": "émilie",
    "metadata": {"auto": {"lastupdated": 100, "ids": ["x", "y"]}},
    "polls": [{"id": "p0"}, {"id": "p1"}],
    "nul": None,
}


def ev(src, row=ROW):
    return evaluate(src, CTX, row)


@pytest.mark.parametrize(
    "src,expected",
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 4", 2.5),
        ("10 / 5", 2),
        ("7 - -3", 10),
        ("now() - 30 * 1000 * 60 * 60 * 24", 1_700_000_000_000 - 30 * 86_400_000),
        ('"a\\"b"', 'a"b'),
        ('"back\\\\slash"', "back\\slash"),
        ('"\\u00e9"', "é"),
        ('"\\ud83d\\ude80"', "🚀"),
        ("`raw \\ string`", "raw \\ string"),
        ('"tab\\tx"', "tab\tx"),
        ("true", True),
        ("null", None),
        ("n", 5),
        ("metadata.auto.lastupdated", 100),
        ("polls[1].id", "p1"),
        ("metadata.auto.ids[0]", "x"),
        ("missing.path", None),
        ("polls[5].id", None),
        ("1e3", 1000.0),
    ],
)
def test_values(src, expected):
    assert ev(src) == expected


@pytest.mark.parametrize(
    "src,expected",
    [
        ('visitorId == "quote\\"visitor"', True),
        ('visitorId == `quote"visitor`', True),
        ('visitorId > "quote"', True),
        ('visitorId < "quote"', False),
        ("n >= 5 && f < 3", True),
        ("n > 5 || b", True),
        ("!(n == 5)", False),
        ("!b", False),
        ("isNull(nul)", True),
        ("isNull(missing)", True),
        ("!isNull(n)", True),
        ("missing == null", True),
        ("missing > 1", False),
        ("missing < 1", False),
        ('n == "5"', False),
        ('n != "5"', True),
        ('s > "e"', True),
        ('s == "émilie"', True),
        ('"用户" > "z"', True),
        ('"Z" < "a"', True),
        ("b == true", True),
        ("b == 1", False),
        ("n == 5.0", True),
        ("metadata.auto.lastupdated >= 100 && metadata.auto.lastupdated < 101", True),
        ("date(2026, 3, 8) == 1772946000000", True),
        ('date("2026-03-09") - date(2026, 3, 8) == 23 * 3600000', True),
    ],
)
def test_predicates(src, expected):
    assert compile_predicate(src, CTX)(ROW) is expected


@pytest.mark.parametrize(
    "src",
    [
        'visitorId == "unterminated',
        "n ==",
        "(n == 1",
        "n == 1)",
        "n === 1",
        "foo(1)",
        '"bad \\q escape"',
        "`open",
        "a..b",
        "n == #",
        "",
    ],
)
def test_parse_errors(src):
    with pytest.raises(ExpressionError):
        compile_predicate(src, CTX)


def test_tokenize_unicode_identifiers_and_strings():
    toks = tokenize('metadata.custom.plan == "用户🚀"')
    assert [t.kind for t in toks] == ["ident", "op", "ident", "op", "ident", "op", "str", "end"]
    assert toks[6].value == "用户🚀"


def test_bounds_extraction():
    path = ["metadata", "auto", "lastupdated"]
    assert path_bounds_exact("metadata.auto.lastupdated >= 5", path, CTX) == (
        5,
        True,
        None,
        True,
        True,
    )
    assert path_bounds_exact(
        "metadata.auto.lastupdated > 5 && metadata.auto.lastupdated <= 9", path, CTX
    ) == (5, False, 9, True, True)
    assert path_bounds_exact("7 < metadata.auto.lastupdated", path, CTX)[:2] == (7, False)
    lo, _, hi, _, exact = path_bounds_exact(
        'metadata.auto.lastupdated == 3 && visitorId > "a"', path, CTX
    )
    assert (lo, hi, exact) == (3, 3, False)
    assert path_bounds_exact("metadata.auto.lastupdated >= 1 || n", path, CTX)[0] is None


def test_bounds_of_a_disjunction_are_the_hull_of_its_branches():
    path = ["metadata", "auto", "lastupdated"]
    keyset = (
        '(metadata.auto.lastupdated > 5) || (metadata.auto.lastupdated == 5 && visitorId > "v-9")'
    )
    assert path_bounds_exact(keyset, path, CTX) == (5, True, None, True, False)
    both = "metadata.auto.lastupdated < 3 || (metadata.auto.lastupdated > 8 && metadata.auto.lastupdated <= 9)"
    assert path_bounds_exact(both, path, CTX) == (None, True, 9, True, False)
    assert path_bounds_exact(
        "metadata.auto.lastupdated > 2 || metadata.auto.lastupdated >= 2", path, CTX
    )[:2] == (2, True)
    assert (
        path_bounds_exact(
            'metadata.auto.lastupdated > 2 || metadata.auto.lastupdated > "a"', path, CTX
        )[0]
        is None
    )
    assert path_bounds_exact(
        "(metadata.auto.lastupdated > 5 || metadata.auto.lastupdated == 5) "
        "&& metadata.auto.lastupdated < 7",
        path,
        CTX,
    ) == (5, True, 7, False, False)
