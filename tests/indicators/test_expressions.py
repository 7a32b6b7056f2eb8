"""The expression engine: reading, writing, evaluating, missing-value strategies and rule operators.

Worked examples are small enough to check by hand. Hypothesis builds random trees and checks that
writing then reading gives the same tree back, and that evaluation agrees with a direct recursive
computation written here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.errors import ValidationError
from jiaowei.indicators.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    SYMBOLS,
    Binary,
    Call,
    Constant,
    Evaluation,
    Expr,
    ExpressionError,
    MissingValueStrategy,
    Number,
    Operator,
    Ref,
    Unary,
    describe,
    evaluate,
    has_values,
    parse,
    references,
    rule_holds,
    skipped,
    to_text,
)

Values = Mapping[tuple[str, str | None], float | None]


def value_of(
    text: str, values: Values | None = None, constants: Mapping[str, float] | None = None
) -> float | None:
    return evaluate(parse(text), values or {}, constants or {}).value


def error_of(text: str, field: str = "expression") -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(text, field=field)
    return caught.value


# --- Numbers, operators and precedence -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12.0),
        ("3.5", 3.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2.5E-1", 0.25),
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("-2 * 3", -6.0),
        ("2 * -3", -6.0),
        ("10 / 4", 2.5),
        ("7 % 3", 1.0),
        ("-7 % 3", -1.0),  # Java's remainder keeps the dividend's sign
        ("7.5 % 2", 1.5),
        ("2 * 7 % 4", 2.0),  # * and % are one level, left to right
        ("1 - 2 - 3", -4.0),
        ("12 / 3 / 2", 2.0),
        ("--2", 2.0),
        ("+3", 3.0),
        ("-(1 + 2) * 2", -6.0),
        ("1 + 2 < 4", 1.0),
        ("2 >= 2", 1.0),
        ("2 > 2", 0.0),
        ("1 <= 0", 0.0),
        ("3 == 3", 1.0),
        ("0.1 + 0.2 == 0.3", 1.0),  # equal within 1e-9
        ("3 != 3", 0.0),
        ("1 < 2 == 1", 1.0),  # comparison binds tighter than equality
        ("1 || 0 && 0", 1.0),  # && binds tighter than ||
        ("(1 || 0) && 0", 0.0),
        ("2 && 3", 1.0),
        ("0 || 0", 0.0),
        ("!0", 1.0),
        ("!5", 0.0),
        ("!(1 > 2) && 1 + 1 == 2", 1.0),
        ("\t1\n+\u30002 ", 3.0),  # any whitespace between tokens, including a full-width space
    ],
)
def test_worked_examples(text: str, expected: float) -> None:
    assert value_of(text) == pytest.approx(expected)


def test_trees_follow_precedence_and_left_associativity() -> None:
    assert parse("-2*3") == Binary("*", Unary("-", Number(2)), Number(3))
    assert parse("1-2-3") == Binary("-", Binary("-", Number(1), Number(2)), Number(3))
    assert parse("1+2*3") == Binary("+", Number(1), Binary("*", Number(2), Number(3)))
    assert parse("1 || 0 && 1") == Binary("||", Number(1), Binary("&&", Number(0), Number(1)))
    assert parse("!-4") == Unary("!", Unary("-", Number(4)))
    assert parse("1 < 2 == 0") == Binary("==", Binary("<", Number(1), Number(2)), Number(0))


def test_numbers_are_not_negative_literals() -> None:
    with pytest.raises(ValueError):
        Number(-1)
    with pytest.raises(ValueError):
        Number(math.inf)
    assert Number(3) == Number(3.0)
    assert Number(-0.0).value == 0.0 and math.copysign(1, Number(-0.0).value) == 1


# --- References and missing values ----------------------------------------------------------------


def test_references_with_and_without_combo() -> None:
    expr = parse("#{STU} + #{STU.girls} * C{k} - #{staff-1_a.x}")
    assert references(expr) == {Ref("STU"), Ref("STU", "girls"), Ref("staff-1_a", "x")}
    values = {("STU", None): 100.0, ("STU", "girls"): 48.0, ("staff-1_a", "x"): 10.0}
    assert evaluate(expr, values, {"k": 2}).value == 100 + 48 * 2 - 10


def test_the_total_and_a_combo_are_different_keys() -> None:
    values: Values = {("STU", "girls"): 48.0}
    result = evaluate(parse("#{STU}"), values)
    assert result == Evaluation(0.0, frozenset(), frozenset({Ref("STU")}))


def test_missing_values_count_as_zero_and_are_reported() -> None:
    expr = parse("#{STU} + #{STAFF} + #{NURSE}")
    result = evaluate(expr, {("STU", None): 120.0, ("NURSE", None): None})
    assert result.value == 120.0
    assert result.present == {Ref("STU")}
    assert result.missing == {Ref("STAFF"), Ref("NURSE")}


def test_a_zero_value_is_present() -> None:
    result = evaluate(parse("#{a}"), {("a", None): 0.0})
    assert result == Evaluation(0.0, frozenset({Ref("a")}), frozenset())


@pytest.mark.parametrize(
    "text",
    ["1 / 0", "1 % 0", "#{a} / #{b}", "(1 / 0) + 2", "-(1 / 0)", "!(1 / 0)", "1 / 0 == 1", "if(1/0, 1, 2)"],
)
def test_division_by_zero_has_no_value_and_spreads(text: str) -> None:
    assert value_of(text, {("a", None): 5.0}) is None


def test_overflow_has_no_value() -> None:
    assert value_of("1e308 * 10") is None
    assert value_of("1e308 / 0.1") is None


def test_constants_come_from_the_caller() -> None:
    assert value_of("C{pi} * 2", constants={"pi": 3.5}) == 7.0
    with pytest.raises(ExpressionError) as caught:
        value_of("C{pi} + C{e}", constants={"pi": 3.5})
    problem = caught.value.problems[0]
    assert problem.value == "e"
    assert "pi" in (problem.expected or "")
    assert "C{e}" in caught.value.detail


# --- Functions ------------------------------------------------------------------------------------


VALUES: Values = {("a", None): 4.0, ("b", None): None, ("c", "x"): 9.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("if(1, 2, 3)", 2.0),
        ("if(0, 2, 3)", 3.0),
        ("if(-0.5, 2, 3)", 2.0),
        ("if(1, 2, 1 / 0)", 2.0),  # only the branch chosen is evaluated
        ("if(0, 1 / 0, 3)", 3.0),
        ("isNull(#{b})", 1.0),
        ("isNull(#{a})", 0.0),
        ("isNull(#{zzz})", 1.0),
        ("isNotNull(#{c.x})", 1.0),
        ("isNotNull(#{c})", 0.0),
        ("firstNonNull(#{b}, #{a}, 7)", 4.0),
        ("firstNonNull(#{b}, 1 / 0, 7)", 7.0),
        ("firstNonNull(#{b} + 1, 7)", 1.0),  # an expression of missing values counts them as 0
        ("firstNonNull(#{b})", None),
        ("greatest(#{a}, #{c.x}, 2)", 9.0),
        ("greatest(1 / 0, -2)", -2.0),
        ("greatest(1 / 0)", None),
        ("least(#{a}, #{c.x}, 2)", 2.0),
        ("least(#{b}, 3)", 0.0),  # a missing reference counts as 0 here
        ("least(5)", 5.0),
        ("if(isNull(#{b}), firstNonNull(#{b}, greatest(#{a}, least(#{c.x}, 6))), -1)", 6.0),
        ("if(isNotNull(#{a}) && #{a} > 3, #{a} * 10, 0) + 1", 41.0),
    ],
)
def test_functions(text: str, expected: float | None) -> None:
    assert value_of(text, VALUES) == expected


def test_if_reports_the_references_of_both_branches() -> None:
    result = evaluate(parse("if(#{a} > 0, #{c.x}, #{b})"), VALUES)
    assert result.value == 9.0
    assert result.present == {Ref("a"), Ref("c", "x")}
    assert result.missing == {Ref("b")}


# --- Writing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1+(2*3)", "1 + 2 * 3"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("-(2)", "-2"),
        ("-(1+2)", "-(1 + 2)"),
        ("2*-3", "2 * -3"),
        ("1e3", "1000"),
        (".5", "0.5"),
        ("1e-7", "1e-07"),
        ("(1 < 2) == (3 > 4)", "1 < 2 == 3 > 4"),
        ("1 < (2 == 3)", "1 < (2 == 3)"),
        ("#{a}+#{b.c}*C{k}", "#{a} + #{b.c} * C{k}"),
        ("if( isNull(#{a}),1 ,greatest(2,3) )", "if(isNull(#{a}), 1, greatest(2, 3))"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert to_text(parse(text)) == canonical
    assert parse(canonical) == parse(text)


def test_describe_labels_each_reference_with_its_value() -> None:
    labels = {Ref("STU"): "在校学生数", Ref("STAFF"): "教职工数", Ref("STU", "girls"): "女生数"}
    values = {("STU", None): 120.0, ("STU", "girls"): 57.5}
    assert (
        describe(parse("#{STU}+#{STAFF}"), labels.__getitem__, values)
        == "在校学生数 (120) + 教职工数 (missing)"
    )
    assert (
        describe(parse("(#{STU.girls} - 1) / C{k}"), labels.__getitem__, values) == "(女生数 (57.5) - 1) / k"
    )


# --- Reading errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "fragments"),
    [
        ("", 1, ["empty"]),
        ("(1 + 2 * 3", 11, ["expected ')'", "found end of expression"]),
        ("if(1, 2, 3", 11, ["expected ',' or ')'", "found end of expression"]),
        ("1 +", 4, ["expected a number", "found end of expression"]),
        ("1 2", 3, ["expected an operator or end of expression", "found '2'"]),
        ("foo(1)", 1, ["unknown function 'foo'", "greatest"]),
        ("IF(1, 2, 3)", 1, ["unknown function 'IF'", "did you mean 'if'"]),
        ("if(1, 2)", 1, ["if takes exactly 3 arguments but was given 2"]),
        ("isNull(#{a}, #{b})", 1, ["isNull takes exactly 1 argument but was given 2"]),
        ("greatest()", 1, ["at least 1 argument but was given 0"]),
        ("isNull(1 + #{a})", 8, ["isNull takes a data reference", "'1 + #{a}'"]),
        ("if", 3, ["expected '(' after 'if'"]),
        ("#{abc", 6, ["expected '.' or '}'", "found end of expression"]),
        ("#{abc + 1", 10, ["expected '.' or '}'", "found end of expression"]),  # codes hold spaces
        ("1 + #{a.b", 10, ["expected '}' to close '#{' at character 5"]),
        ("C{k", 4, ["expected '}' to close 'C{'"]),
        ("1 }", 3, ["'}'", "no '#{' or 'C{'"]),
        ("{a}", 1, ["expected '#{' or 'C{'", "found '{'"]),
        ("#{}", 3, ["expected a data element code", "found '}'"]),
        ("#{a.}", 5, ["expected a category option combo code", "found '}'"]),
        ("#{a.b.c}", 6, ["expected '}'", "found '.'"]),
        ("#{a\x01}", 3, ["'a\\x01' is not a code", "control character"]),
        ("#{a\\", 5, ["expected a character after the backslash"]),
        ("#{" + "x" * 51 + "}", 3, ["is not a code: 1 to 50 characters"]),
        ("#a", 2, ["expected '{' after '#'", "found 'a'"]),
        ("I{abc}", 1, ["expected '#{' for a data reference or 'C{' for a constant", "found 'I{'"]),
        ("C{a.b}", 4, ["expected '}'", "found '.'"]),
        ("2e", 3, ["digits of the exponent", "found end of expression"]),
        ("2e+x", 4, ["digits of the exponent in '2e+'", "found 'x'"]),
        ("1e999", 1, ["too large"]),
        ("1 & 2", 3, ["expected '&&'", "found '&'"]),
        ("1 | 2", 3, ["expected '||'", "found '|'"]),
        ("#{a} = 2", 6, ["expected '=='", "found '='"]),
        ("__import__('os')", 1, ["unknown function '__import__'"]),
        ("1;2", 2, ["found ';'"]),
        ("os.system", 1, ["found 'os'"]),
        ("'a'", 1, ['found "\'"']),
        ("f(1,)", 1, ["unknown function 'f'"]),
        ("least(1,)", 9, ["expected a number", "found ')'"]),
        ("()", 2, ["expected a number", "found ')'"]),
        ("1 ** 2", 4, ["expected a number", "found '*'"]),
    ],
)
def test_reading_errors_say_where_and_what(text: str, position: int, fragments: list[str]) -> None:
    error = error_of(text, field="numerator")
    [problem] = error.problems
    assert problem.message.startswith(f"at character {position}: ")
    for fragment in fragments:
        assert fragment in problem.message
    assert problem.field == "numerator"
    assert problem.value == text
    assert problem.message in error.detail and "numerator" in error.detail


def test_the_error_is_a_validation_error() -> None:
    error = error_of("1 +")
    assert isinstance(error, ValidationError)
    assert (error.code, error.title, error.status) == ("expression", "Invalid expression", 422)
    assert error_of("1 +").problems[0].field == "expression"


def test_python_is_never_run() -> None:
    for text in [
        "__import__('os').system('true')",
        "1;2",
        "#{a b",
        "[x for x in ()]",
        "lambda: 1",
        "1 if 1 else 2",
    ]:
        with pytest.raises(ExpressionError):
            parse(text)


def test_deep_nesting_is_refused_without_exhausting_the_stack() -> None:
    assert "levels deep" in error_of("1+" * MAX_DEPTH + "1").problems[0].message
    assert "open at once" in error_of("(" * 1000 + "1" + ")" * 1000).problems[0].message
    assert "open at once" in error_of("-" * 1000 + "1").problems[0].message
    assert "open at once" in error_of("least(" * 1000 + "1" + ")" * 1000).problems[0].message
    long_sum = "+".join(f"#{{e{i}}}" for i in range(150))
    assert evaluate(parse(long_sum), {("e7", None): 1.0}).value == 1.0


def test_trees_refuse_what_could_not_be_written() -> None:
    with pytest.raises(ValueError):
        Ref("a\tb")
    with pytest.raises(ValueError):
        Ref("a", "")
    with pytest.raises(ValueError):
        Ref("x" * 51)
    with pytest.raises(ValueError):
        Constant("")
    with pytest.raises(ValueError):
        Unary("~", Number(1))
    with pytest.raises(ValueError):
        Binary("**", Number(1), Number(2))
    with pytest.raises(ValueError):
        Call("if", (Number(1),))
    with pytest.raises(ValueError):
        Call("eval", (Number(1),))


# --- Hypothesis: round trip and a reference evaluation ---------------------------------------------

ELEMENTS = ["a", "b", "c-1"]
COMBOS: list[str | None] = [None, "x", "y_2"]

numbers = st.one_of(
    st.integers(min_value=0, max_value=1000).map(float),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
).map(Number)
refs = st.builds(Ref, st.sampled_from(ELEMENTS), st.sampled_from(COMBOS))


def arithmetic(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(Unary, st.just("-"), children),
        st.builds(Binary, st.sampled_from(["+", "-", "*"]), children, children),
    )


arithmetic_trees: st.SearchStrategy[Expr] = st.recursive(st.one_of(numbers, refs), arithmetic, max_leaves=25)
value_maps = st.dictionaries(
    st.tuples(st.sampled_from(ELEMENTS), st.sampled_from(COMBOS)),
    st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)),
)


def direct(expr: Expr, values: Values) -> float:
    """The value computed straight from the tree, missing values as 0."""
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Ref):
        found = values.get((expr.element, expr.combo))
        return 0.0 if found is None else found
    if isinstance(expr, Unary):
        assert expr.op == "-"
        return -direct(expr.operand, values)
    assert isinstance(expr, Binary)
    left, right = direct(expr.left, values), direct(expr.right, values)
    return {"+": left + right, "-": left - right, "*": left * right}[expr.op]


@given(arithmetic_trees)
def test_arithmetic_round_trips(expr: Expr) -> None:
    assert parse(to_text(expr)) == expr


@given(arithmetic_trees, value_maps)
def test_evaluation_matches_a_direct_computation(expr: Expr, values: Values) -> None:
    result = evaluate(expr, values)
    expected = direct(expr, values)
    if not math.isfinite(expected):
        assert result.value is None
        return
    assert result.value is not None
    assert math.isclose(result.value, expected, rel_tol=1e-12, abs_tol=1e-12)
    assert result.present | result.missing == references(expr)
    assert not result.present & result.missing
    assert all(values.get(ref.key) is not None for ref in result.present)


def any_node(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    lists = st.lists(children, min_size=1, max_size=3).map(tuple)
    return st.one_of(
        st.builds(Unary, st.sampled_from(["-", "+", "!"]), children),
        st.builds(
            Binary,
            st.sampled_from(["||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]),
            children,
            children,
        ),
        st.builds(Call, st.just("if"), st.tuples(children, children, children)),
        st.builds(Call, st.sampled_from(["isNull", "isNotNull"]), st.tuples(refs)),
        st.builds(Call, st.sampled_from(["firstNonNull", "greatest", "least"]), lists),
    )


any_trees: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(numbers, refs, st.builds(Constant, st.sampled_from(["k", "PI_2"]))), any_node, max_leaves=20
)


@given(any_trees)
def test_every_tree_round_trips(expr: Expr) -> None:
    text = to_text(expr)
    assert parse(text) == expr
    assert to_text(parse(text)) == text


@given(any_trees, value_maps)
def test_evaluation_is_total_and_reports_every_reference(expr: Expr, values: Values) -> None:
    result = evaluate(expr, values, {"k": 2.0, "PI_2": 6.28})
    assert result.value is None or math.isfinite(result.value)
    assert result.present | result.missing == references(expr)


def test_functions_table_matches_what_the_parser_accepts() -> None:
    assert set(FUNCTIONS) == {"if", "isNull", "isNotNull", "firstNonNull", "greatest", "least"}


# --- Missing-value strategies ---------------------------------------------------------------------

A, B = Ref("a"), Ref("b")
NONE: frozenset[Ref] = frozenset()


def side(value: float | None, present: frozenset[Ref] = NONE, missing: frozenset[Ref] = NONE) -> Evaluation:
    return Evaluation(value, present, missing)


ALL_PRESENT = side(3.0, frozenset({A, B}))
SOME_MISSING = side(1.0, frozenset({A}), frozenset({B}))
ALL_MISSING = side(0.0, NONE, frozenset({A, B}))
NO_REFERENCES = side(5.0)

S = MissingValueStrategy


@pytest.mark.parametrize(
    ("strategy", "evaluation", "expected"),
    [
        (S.SKIP_IF_ANY_VALUE_MISSING, ALL_PRESENT, False),
        (S.SKIP_IF_ANY_VALUE_MISSING, SOME_MISSING, True),
        (S.SKIP_IF_ANY_VALUE_MISSING, ALL_MISSING, True),
        (S.SKIP_IF_ANY_VALUE_MISSING, NO_REFERENCES, False),
        (S.SKIP_IF_ALL_VALUES_MISSING, ALL_PRESENT, False),
        (S.SKIP_IF_ALL_VALUES_MISSING, SOME_MISSING, False),
        (S.SKIP_IF_ALL_VALUES_MISSING, ALL_MISSING, True),
        (S.SKIP_IF_ALL_VALUES_MISSING, NO_REFERENCES, False),
        (S.NEVER_SKIP, ALL_PRESENT, False),
        (S.NEVER_SKIP, SOME_MISSING, False),
        (S.NEVER_SKIP, ALL_MISSING, False),
        (S.NEVER_SKIP, NO_REFERENCES, False),
    ],
)
def test_missing_value_strategies(
    strategy: MissingValueStrategy, evaluation: Evaluation, expected: bool
) -> None:
    assert skipped(strategy, evaluation) is expected


def test_strategies_use_dhis2_names() -> None:
    assert [s.value for s in S] == ["SKIP_IF_ANY_VALUE_MISSING", "SKIP_IF_ALL_VALUES_MISSING", "NEVER_SKIP"]
    assert S("NEVER_SKIP") is S.NEVER_SKIP


def test_strategies_on_real_evaluations() -> None:
    expr = parse("#{a} + #{b}")
    half = evaluate(expr, {("a", None): 1.0})
    assert skipped(S.SKIP_IF_ANY_VALUE_MISSING, half)
    assert not skipped(S.SKIP_IF_ALL_VALUES_MISSING, half)
    assert skipped(S.SKIP_IF_ALL_VALUES_MISSING, evaluate(expr, {}))
    assert not skipped(S.SKIP_IF_ANY_VALUE_MISSING, evaluate(parse("1 + 2"), {}))


# --- Rule operators -------------------------------------------------------------------------------

Op = Operator


@pytest.mark.parametrize(
    ("operator", "left", "right", "expected"),
    [
        (Op.equal_to, 2.0, 2.0, True),
        (Op.equal_to, 2.0, 3.0, False),
        (Op.equal_to, 0.1 + 0.2, 0.3, True),
        (Op.not_equal_to, 2.0, 3.0, True),
        (Op.not_equal_to, 2.0, 2.0, False),
        (Op.greater_than, 3.0, 2.0, True),
        (Op.greater_than, 2.0, 2.0, False),
        (Op.greater_than, 1.0, 2.0, False),
        (Op.greater_than_or_equal_to, 2.0, 2.0, True),
        (Op.greater_than_or_equal_to, 1.0, 2.0, False),
        (Op.less_than, 1.0, 2.0, True),
        (Op.less_than, 2.0, 2.0, False),
        (Op.less_than_or_equal_to, 2.0, 2.0, True),
        (Op.less_than_or_equal_to, 3.0, 2.0, False),
    ],
)
def test_comparison_operators(operator: Operator, left: float, right: float, expected: bool) -> None:
    assert rule_holds(operator, side(left), side(right)) is expected


@pytest.mark.parametrize("operator", [o for o in Op if o not in (Op.compulsory_pair, Op.exclusive_pair)])
def test_a_comparison_with_a_side_without_value_is_not_violated(operator: Operator) -> None:
    assert rule_holds(operator, side(None), side(1.0))
    assert rule_holds(operator, side(1.0), side(None))


WITH = side(4.0, frozenset({A}))
WITHOUT = side(0.0, NONE, frozenset({B}))
PARTLY = side(4.0, frozenset({A}), frozenset({B}))
FIXED = side(7.0)  # no references, a value
UNDEFINED = side(None)  # no references, no value (1 / 0)


@pytest.mark.parametrize(
    ("left", "right", "compulsory", "exclusive"),
    [
        (WITH, WITH, True, False),
        (WITH, WITHOUT, False, True),
        (WITHOUT, WITH, False, True),
        (WITHOUT, WITHOUT, True, True),
        (PARTLY, WITH, True, False),
        (PARTLY, WITHOUT, False, True),
        (FIXED, WITH, True, False),
        (FIXED, WITHOUT, False, True),
        (UNDEFINED, WITHOUT, True, True),
        (UNDEFINED, WITH, False, True),
    ],
)
def test_pair_operators(left: Evaluation, right: Evaluation, compulsory: bool, exclusive: bool) -> None:
    assert rule_holds(Op.compulsory_pair, left, right) is compulsory
    assert rule_holds(Op.exclusive_pair, left, right) is exclusive


def test_has_values() -> None:
    assert [has_values(s) for s in (WITH, WITHOUT, PARTLY, FIXED, UNDEFINED)] == [
        True,
        False,
        True,
        True,
        False,
    ]


def test_pairs_on_real_evaluations() -> None:
    values: Values = {("beds", None): 30.0}
    beds, doctors = evaluate(parse("#{beds}"), values), evaluate(parse("#{doctors}"), values)
    assert not rule_holds(Op.compulsory_pair, beds, doctors)
    assert rule_holds(Op.exclusive_pair, beds, doctors)


def test_operators_use_dhis2_names_and_each_has_a_symbol() -> None:
    assert [o.value for o in Op] == [
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "compulsory_pair",
        "exclusive_pair",
    ]
    assert dict(SYMBOLS) == {
        Op.equal_to: "==",
        Op.not_equal_to: "!=",
        Op.greater_than: ">",
        Op.greater_than_or_equal_to: ">=",
        Op.less_than: "<",
        Op.less_than_or_equal_to: "<=",
        Op.compulsory_pair: "compulsory pair",
        Op.exclusive_pair: "exclusive pair",
    }
