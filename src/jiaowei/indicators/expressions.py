r"""DHIS2-style expressions: parse, render, evaluate; missing-value strategies and rule operators.

A pure engine: text in, plain values out. No database, and never Python's ``eval``: the text is
read by a hand-written tokenizer and a precedence-climbing parser into an immutable tree of
frozen dataclasses.

Syntax (DHIS2's, with codes instead of UIDs)::

    12   3.5   .5   1e3                  numbers
    #{DE}                                a data element's total over all its category option combos
    #{DE.COC}                            one category option combo of a data element
    C{CODE}                              a named constant (its value is supplied by the caller)
    - + !                                unary operators (bind tightest)
    * / %                                then multiplicative,
    + -                                  additive,
    < <= > >=                            comparison,
    == !=                                equality,
    &&                                   and,
    ||                                   or (binds loosest); all binary operators are left-associative
    ( )                                  grouping
    if(c, a, b)  isNull(#{..})  isNotNull(#{..})  firstNonNull(a, ...)  greatest(a, ...)  least(a, ...)

Codes are DHIS2's: 1 to 50 characters, none a control character (``TA_MAL_CONF_MEDIAN+2``,
``学生数`` and ``A B`` are codes). Inside the braces every character is part of the code, spaces too,
except three that are written with a backslash before them: ``\.`` for a dot, ``\}`` for a
closing brace and ``\\`` for a backslash (``#{A\.B.X+2}`` is element ``A.B``, option combo
``X+2``). :func:`to_text` writes codes so, and :func:`escape_code` does it for one code. Function
names are case-sensitive. Positions in error messages count characters from 1.

Evaluation follows DHIS2: a reference with no value is *missing*; in arithmetic it counts as 0,
and the caller decides with :func:`skipped` whether the result may be used at all. Booleans are
numbers (true is 1.0, false 0.0; any non-zero value is true). Division or modulo by zero, and any
result that is not a finite number, has no value (``None``), and so has every operation on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NoReturn, TypeAlias

from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators.model import METADATA_CODE

MAX_DEPTH = 200
"""The deepest expression tree accepted (a sum of 199 terms is 200 deep)."""

MAX_NESTING = 50
"""The most parentheses, function calls and unary operators open at once."""

FUNCTIONS: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {
        "if": (3, 3),
        "isNull": (1, 1),
        "isNotNull": (1, 1),
        "firstNonNull": (1, None),
        "greatest": (1, None),
        "least": (1, None),
    }
)
"""Each function's (fewest, most) arguments; ``None`` means no upper limit."""

UNARY_OPERATORS = frozenset({"-", "+", "!"})

PRECEDENCE: Mapping[str, int] = MappingProxyType(
    {
        "||": 1,
        "&&": 2,
        "==": 3,
        "!=": 3,
        "<": 4,
        "<=": 4,
        ">": 4,
        ">=": 4,
        "+": 5,
        "-": 5,
        "*": 6,
        "/": 6,
        "%": 6,
    }
)
"""Binary operators and how tightly each binds (higher binds tighter)."""

_UNARY_PRECEDENCE = 7
_ATOM_PRECEDENCE = 8
_ESCAPED = frozenset("\\.}")
"""The characters of a code written with a backslash before them inside ``#{…}`` and ``C{…}``."""
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TWO_CHAR_OPERATORS = frozenset({"&&", "||", "==", "!=", "<=", ">="})
_ONE_CHAR_OPERATORS = frozenset("<>!+-*/%(),")
_DIGITS = frozenset("0123456789")
_TOLERANCE = 1e-9


class ExpressionError(ValidationError):
    """An expression that cannot be read, or refers to a constant nobody defined."""

    code = "expression"
    title = "Invalid expression"


# --- The tree --------------------------------------------------------------------------------------


def _check_code(code: str, what: str) -> None:
    if not METADATA_CODE.fullmatch(code):
        raise ValueError(f"{what} {code!r} is not a code: 1 to 50 characters, none a control character")


def escape_code(code: str) -> str:
    """``code`` as it is written inside ``#{…}`` or ``C{…}``: ``\\``, ``.`` and ``}`` escaped."""
    return "".join("\\" + c if c in _ESCAPED else c for c in code)


@dataclass(frozen=True)
class Number:
    """A literal: finite and not negative (``-2`` is ``Unary("-", Number(2))``)."""

    value: float
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"a number literal is finite and not negative, not {self.value!r}")
        object.__setattr__(self, "value", float(self.value) + 0.0)  # int → float, -0.0 → 0.0


@dataclass(frozen=True)
class Ref:
    """``#{element}`` (the total over all combos) or ``#{element.combo}`` (one combo)."""

    element: str
    combo: str | None = None
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_code(self.element, "data element")
        if self.combo is not None:
            _check_code(self.combo, "category option combo")

    @property
    def key(self) -> tuple[str, str | None]:
        """The key of this reference's value in the ``values`` mapping."""
        return (self.element, self.combo)


@dataclass(frozen=True)
class Constant:
    """``C{code}``: a named constant whose value the caller supplies."""

    code: str
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_code(self.code, "constant")


@dataclass(frozen=True)
class Unary:
    """``-x``, ``+x`` or ``!x``."""

    op: str
    operand: Expr
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in UNARY_OPERATORS:
            raise ValueError(f"unknown unary operator {self.op!r}")
        object.__setattr__(self, "depth", 1 + self.operand.depth)


@dataclass(frozen=True)
class Binary:
    """``left op right`` for any operator in :data:`PRECEDENCE`."""

    op: str
    left: Expr
    right: Expr
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in PRECEDENCE:
            raise ValueError(f"unknown binary operator {self.op!r}")
        object.__setattr__(self, "depth", 1 + max(self.left.depth, self.right.depth))


@dataclass(frozen=True)
class Call:
    """A function from :data:`FUNCTIONS` applied to its arguments."""

    name: str
    args: tuple[Expr, ...]
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        problem = _arity_problem(self.name, len(self.args))
        if problem:
            raise ValueError(problem)
        object.__setattr__(self, "depth", 1 + max(arg.depth for arg in self.args))


Expr: TypeAlias = Number | Ref | Constant | Unary | Binary | Call


def _children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Unary):
        return (expr.operand,)
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, Call):
        return expr.args
    return ()


def _arity_problem(name: str, count: int) -> str | None:
    if name not in FUNCTIONS:
        return f"unknown function {name!r}; expected one of {', '.join(sorted(FUNCTIONS))}"
    low, high = FUNCTIONS[name]
    if low <= count and (high is None or count <= high):
        return None
    wanted = f"exactly {low}" if low == high else f"at least {low}"
    noun = "argument" if low == 1 else "arguments"
    return f"{name} takes {wanted} {noun} but was given {count}"


# --- Reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "leaf" (a reference or constant), "name", "op" or "end"
    text: str
    position: int  # index into the text, from 0
    leaf: Number | Ref | Constant | None = None  # the node a "number" or "leaf" token stands for


def _error(text: str, fieldname: str, position: int, message: str) -> ExpressionError:
    where = f"at character {position + 1}: {message}"
    return ExpressionError(
        detail=M_("Invalid expression in {fieldname}: {where}", fieldname=fieldname, where=where),
        problems=[Problem(message=where, field=fieldname, value=text)],
    )


def _found(text: str, position: int) -> str:
    return repr(text[position]) if position < len(text) else "end of expression"


class _Lexer:
    """Hands out tokens one at a time, so an error is reported where the parser got to."""

    def __init__(self, text: str, fieldname: str) -> None:
        self.text = text
        self.fieldname = fieldname
        self.i = 0

    def fail(self, position: int, expected: str) -> NoReturn:
        found = _found(self.text, position)
        raise _error(self.text, self.fieldname, position, M_("expected {expected} but found {found}",
                                                             expected=expected, found=found))

    def next(self) -> _Token:
        text = self.text
        while self.i < len(text) and text[self.i].isspace():
            self.i += 1
        start = self.i
        if start == len(text):
            return _Token("end", "", start)
        char, pair = text[start], text[start : start + 2]
        if char in _DIGITS or (char == "." and pair[1:] in _DIGITS):
            return self._number()
        if char == "#":
            return self._braced("#", start + 1, allow_combo=True)
        if char.isascii() and (char.isalpha() or char == "_"):
            return self._name()
        if pair in _TWO_CHAR_OPERATORS:
            self.i += 2
            return _Token("op", pair, start)
        if char in _ONE_CHAR_OPERATORS:
            self.i += 1
            return _Token("op", char, start)
        if char == "}":
            raise _error(text, self.fieldname, start, M_("found '}' but no '#{' or 'C{' before it to close"))
        hint = {"&": "'&&'", "|": "'||'", "=": "'=='", "{": "'#{' or 'C{'"}.get(char)
        self.fail(start, hint or "a number, a reference like #{code}, a function, an operator or '('")

    def peek(self) -> str:
        """The next character that is not whitespace, or ``""`` at the end."""
        rest = self.text[self.i :].lstrip()
        return rest[:1]

    def _number(self) -> _Token:
        start = self.i
        match = _NUMBER.match(self.text, start)
        assert match is not None
        self.i = match.end()
        if self.text[self.i : self.i + 1] in ("e", "E"):
            sign = self.text[self.i + 1 : self.i + 2] in ("+", "-")
            end = self.i + 1 + sign
            self.fail(end, f"the digits of the exponent in {self.text[start:end]!r}")
        value = float(match.group())
        if not math.isfinite(value):
            raise _error(self.text, self.fieldname, start, M_("the number {value} is too large",
                                                              value=match.group()))
        return _Token("number", match.group(), start, Number(value))

    def _name(self) -> _Token:
        start = self.i
        match = _NAME.match(self.text, start)
        assert match is not None
        self.i = match.end()
        if self.text[self.i : self.i + 1] != "{":
            return _Token("name", match.group(), start)
        if match.group() != "C":
            expected = "'#{' for a data reference or 'C{' for a constant"
            message = f"expected {expected} but found {match.group() + '{'!r}"
            raise _error(self.text, self.fieldname, start, message)
        return self._braced("C", self.i, allow_combo=False)

    def _braced(self, prefix: str, brace: int, *, allow_combo: bool) -> _Token:
        """``#{DE}``, ``#{DE.COC}`` or ``C{CODE}``; ``brace`` is the index where ``{`` belongs."""
        start, opener = brace - len(prefix), prefix + "{"
        if self.text[brace : brace + 1] != "{":
            self.fail(brace, f"'{{' after {prefix!r}")
        what = "a data element code" if allow_combo else "a constant code"
        first, self.i = self._code(brace + 1, what)
        second = None
        if allow_combo and self.text[self.i : self.i + 1] == ".":
            second, self.i = self._code(self.i + 1, M_("a category option combo code"))
        if self.text[self.i : self.i + 1] != "}":
            closing = "'.' or '}'" if allow_combo and second is None else "'}'"
            rules = "write '\\.', '\\}' and '\\\\' for a dot, a brace and a backslash in a code"
            self.fail(self.i, f"{closing} to close {opener!r} at character {start + 1} ({rules})")
        self.i += 1
        leaf: Ref | Constant = Ref(first, second) if allow_combo else Constant(first)
        return _Token("leaf", self.text[start : self.i], start, leaf)

    def _code(self, position: int, what: str) -> tuple[str, int]:
        """The code from ``position`` to the first ``.`` or ``}`` not escaped, and where it stops."""
        text, chars, i = self.text, [], position
        while i < len(text) and text[i] not in ".}":
            if text[i] == "\\":
                i += 1
                if i == len(text):
                    self.fail(i, M_("a character after the backslash"))
            chars.append(text[i])
            i += 1
        code = "".join(chars)
        if not code:
            self.fail(position, what)
        if not METADATA_CODE.fullmatch(code):
            raise _error(text, self.fieldname, position,
                         M_("{code!r} is not a code: 1 to 50 characters, none a control character",
                            code=code))
        return code, i


_VALUE_EXPECTED = "a number, a reference like #{code}, a constant like C{code}, a function or '('"


class _Parser:
    """Precedence climbing over :data:`PRECEDENCE`; unary operators and atoms below that."""

    def __init__(self, text: str, fieldname: str) -> None:
        self.lexer = _Lexer(text, fieldname)
        self.token = self.lexer.next()
        self.nesting = 0

    def fail(self, token: _Token, message: str) -> NoReturn:
        raise _error(self.lexer.text, self.lexer.fieldname, token.position, message)

    def expect_failed(self, expected: str) -> NoReturn:
        found = "end of expression" if self.token.kind == "end" else repr(self.token.text)
        self.fail(self.token, f"expected {expected} but found {found}")

    def advance(self) -> _Token:
        token, self.token = self.token, self.lexer.next()
        return token

    def at(self, *texts: str) -> bool:
        return self.token.kind == "op" and self.token.text in texts

    def checked(self, expr: Expr, token: _Token) -> Expr:
        if expr.depth > MAX_DEPTH:
            self.fail(token, f"the expression is nested more than {MAX_DEPTH} levels deep; split it up")
        return expr

    @contextmanager
    def nested(self, token: _Token) -> Iterator[None]:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            self.fail(token, f"more than {MAX_NESTING} parentheses, functions and signs open at once")
        yield
        self.nesting -= 1

    def whole(self) -> Expr:
        if self.token.kind == "end":
            self.fail(self.token, f"the expression is empty; expected {_VALUE_EXPECTED}")
        expr = self.expression(1)
        if self.token.kind != "end":
            self.expect_failed(M_("an operator or end of expression"))
        return expr

    def expression(self, lowest: int) -> Expr:
        left = self.unary()
        while self.token.kind == "op" and PRECEDENCE.get(self.token.text, 0) >= lowest:
            operator = self.advance()
            right = self.expression(PRECEDENCE[operator.text] + 1)
            left = self.checked(Binary(operator.text, left, right), operator)
        return left

    def unary(self) -> Expr:
        if not self.at(*UNARY_OPERATORS):
            return self.atom()
        operator = self.advance()
        with self.nested(operator):
            operand = self.unary()
        return self.checked(Unary(operator.text, operand), operator)

    def atom(self) -> Expr:
        token = self.token
        if token.leaf is not None:
            self.advance()
            return token.leaf
        if token.kind == "name":
            return self.call()
        if self.at("("):
            self.advance()
            with self.nested(token):
                inner = self.expression(1)
            if not self.at(")"):
                self.expect_failed(M_("')' to close '(' at character {value}", value=token.position + 1))
            self.advance()
            return inner
        self.expect_failed(_VALUE_EXPECTED)

    def call(self) -> Expr:
        name = self.token
        if name.text not in FUNCTIONS:  # judged before reading on, so `os.system` fails at `os`
            if self.lexer.peek() == "(":
                self.fail(name, _unknown_function(name.text))
            self.expect_failed(_VALUE_EXPECTED)
        self.advance()
        if not self.at("("):
            self.expect_failed(M_("'(' after {text!r}", text=name.text))
        self.advance()
        with self.nested(name):
            args = self.arguments(name)
        problem = _arity_problem(name.text, len(args))
        if problem:
            self.fail(name, problem)
        return self.checked(Call(name.text, args), name)

    def arguments(self, name: _Token) -> tuple[Expr, ...]:
        args: list[Expr] = []
        while not (self.at(")") and not args):
            start = self.token
            arg = self.expression(1)
            if name.text in ("isNull", "isNotNull") and not isinstance(arg, Ref):
                self.fail(start, f"{name.text} takes a data reference like #{{code}}, not {to_text(arg)!r}")
            args.append(arg)
            if not self.at(","):
                break
            self.advance()
        if not self.at(")"):
            self.expect_failed(M_("',' or ')' to close {text}( at character {value}", text=name.text,
                                  value=name.position + 1))
        self.advance()
        return tuple(args)


def _unknown_function(name: str) -> str:
    message = _arity_problem(name, 0) or ""
    for known in FUNCTIONS:
        if known.lower() == name.lower():
            return f"unknown function {name!r}; did you mean {known!r}? (function names are case-sensitive)"
    return message


def parse(text: str, *, field: str = "expression") -> Expr:
    """Read ``text`` into a tree, or raise :class:`ExpressionError`.

    The error carries one :class:`Problem` naming ``field``, with the whole text as its value and
    a message giving the character position (from 1) and what was expected and found there.
    """
    return _Parser(text, field).whole()


def references(expr: Expr) -> frozenset[Ref]:
    """Every data reference in the expression (both branches of an ``if``), to fetch values for."""
    found: set[Ref] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Ref):
            found.add(node)
        stack.extend(_children(node))
    return frozenset(found)


# --- Writing -------------------------------------------------------------------------------------


def _format_number(value: float) -> str:
    """``120``, not ``120.0``; otherwise Python's shortest round-tripping form (``2.5``, ``1e-07``)."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _precedence(expr: Expr) -> int:
    if isinstance(expr, Binary):
        return PRECEDENCE[expr.op]
    return _UNARY_PRECEDENCE if isinstance(expr, Unary) else _ATOM_PRECEDENCE


def _render(expr: Expr, leaf: Callable[[Ref | Constant], str]) -> str:
    """Text with as few parentheses as keep the tree exactly as it is (operators left-associative)."""

    def grouped(child: Expr, tighter_than: int) -> str:
        text = _render(child, leaf)
        return text if _precedence(child) > tighter_than else f"({text})"

    if isinstance(expr, Number):
        return _format_number(expr.value)
    if isinstance(expr, Ref | Constant):
        return leaf(expr)
    if isinstance(expr, Unary):
        return expr.op + grouped(expr.operand, _UNARY_PRECEDENCE - 1)
    if isinstance(expr, Binary):
        level = PRECEDENCE[expr.op]
        return f"{grouped(expr.left, level - 1)} {expr.op} {grouped(expr.right, level)}"
    return f"{expr.name}({', '.join(_render(arg, leaf) for arg in expr.args)})"


def _source(leaf: Ref | Constant) -> str:
    if isinstance(leaf, Constant):
        return f"C{{{escape_code(leaf.code)}}}"
    combo = "" if leaf.combo is None else f".{escape_code(leaf.combo)}"
    return f"#{{{escape_code(leaf.element)}{combo}}}"


def to_text(expr: Expr) -> str:
    """Canonical text: ``parse(to_text(e)) == e`` for every tree ``e``."""
    return _render(expr, _source)


Values: TypeAlias = Mapping[tuple[str, str | None], float | None]
"""Values by (data element, category option combo or ``None`` for the total); ``None`` = missing."""


def describe(expr: Expr, label: Callable[[Ref], str], values: Values) -> str:
    """The expression for a person: each reference as ``label (value)`` or ``label (missing)``.

    For example ``在校学生数 (120) + 教职工数 (missing)``. Operators, numbers and functions are
    written as in :func:`to_text`; a constant is written as its code.
    """

    def leaf(node: Ref | Constant) -> str:
        if isinstance(node, Constant):
            return node.code
        value = values.get(node.key)
        return f"{label(node)} ({'missing' if value is None else _format_number(float(value))})"

    return _render(expr, leaf)


# --- Evaluating ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The value of an expression (``None``: no value) and which of its references had values.

    ``present`` and ``missing`` together are exactly :func:`references` of the expression,
    including references in an ``if`` branch that was not taken.
    """

    value: float | None
    present: frozenset[Ref]
    missing: frozenset[Ref]


_NO_CONSTANTS: Mapping[str, float] = MappingProxyType({})


def evaluate(expr: Expr, values: Values, constants: Mapping[str, float] = _NO_CONSTANTS) -> Evaluation:
    """The value of ``expr`` given the references' ``values`` and the ``constants``.

    - A reference whose key is absent or maps to ``None`` is missing and counts as 0, except as
      the argument of ``isNull``, ``isNotNull`` and ``firstNonNull``, which see it as no value.
    - ``x / 0``, ``x % 0`` and any non-finite result have no value; an operator, comparison or
      ``if`` condition with an operand that has no value has no value either. ``%`` keeps the
      sign of the dividend, as in Java (``-7 % 3`` is ``-1``).
    - Comparisons and logic give 1.0 or 0.0; ``==`` and the others count numbers within 1e-9
      (relative or absolute) as equal. Any non-zero value is true.
    - ``if(c, a, b)`` evaluates only the branch chosen; ``firstNonNull`` gives its first argument
      that has a value; ``greatest`` and ``least`` ignore arguments without one; each gives
      ``None`` when no argument has a value.

    Raises :class:`ExpressionError` for a constant not in ``constants``.
    """
    refs = references(expr)
    present = frozenset(ref for ref in refs if values.get(ref.key) is not None)
    return Evaluation(_Evaluator(values, constants).value(expr), present, refs - present)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _truth(condition: bool) -> float:
    return 1.0 if condition else 0.0


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)


def _compare(op: str, a: float, b: float) -> bool:
    """``a op b`` for ``== != < <= > >=``, with :func:`_close` numbers equal."""
    if op in ("==", "!="):
        return _close(a, b) == (op == "==")
    if _close(a, b):
        return op in ("<=", ">=")
    return a < b if op in ("<", "<=") else a > b


def _arithmetic(op: str, a: float, b: float) -> float | None:
    if op in ("+", "-", "*"):
        return _finite(a + b if op == "+" else a - b if op == "-" else a * b)
    if op in ("/", "%"):
        if b == 0:
            return None
        return _finite(a / b if op == "/" else math.fmod(a, b))
    if op == "&&":
        return _truth(a != 0 and b != 0)
    if op == "||":
        return _truth(a != 0 or b != 0)
    return _truth(_compare(op, a, b))


class _Evaluator:
    def __init__(self, values: Values, constants: Mapping[str, float]) -> None:
        self.values = values
        self.constants = constants

    def value(self, expr: Expr) -> float | None:
        """The value in arithmetic: a missing reference counts as 0."""
        if isinstance(expr, Ref):
            found = self.values.get(expr.key)
            return 0.0 if found is None else _finite(float(found))
        if isinstance(expr, Number):
            return expr.value
        if isinstance(expr, Constant):
            return self.constant(expr.code)
        if isinstance(expr, Unary):
            return self.unary(expr.op, self.value(expr.operand))
        if isinstance(expr, Binary):
            left, right = self.value(expr.left), self.value(expr.right)
            return None if left is None or right is None else _arithmetic(expr.op, left, right)
        return self.call(expr)

    def raw(self, expr: Expr) -> float | None:
        """The value as null-aware functions see it: a missing reference has none."""
        if isinstance(expr, Ref):
            found = self.values.get(expr.key)
            return None if found is None else _finite(float(found))
        return self.value(expr)

    def constant(self, code: str) -> float:
        if code not in self.constants:
            known = ", ".join(sorted(self.constants)) or "none are defined"
            problem = Problem(
                message=M_("unknown constant {code!r}", code=code),
                field="constant",
                value=code,
                expected=M_("one of the defined constants ({known})", known=known),
            )
            raise ExpressionError(detail=M_("Unknown constant C{{{code}}}", code=code), problems=[problem])
        return float(self.constants[code])

    @staticmethod
    def unary(op: str, operand: float | None) -> float | None:
        if operand is None:
            return None
        return -operand if op == "-" else operand if op == "+" else _truth(operand == 0)

    def call(self, call: Call) -> float | None:
        name, args = call.name, call.args
        if name == "if":
            condition = self.value(args[0])
            if condition is None:
                return None
            return self.value(args[1] if condition != 0 else args[2])
        if name in ("isNull", "isNotNull"):
            return _truth((self.raw(args[0]) is None) == (name == "isNull"))
        if name == "firstNonNull":
            return next((v for v in map(self.raw, args) if v is not None), None)
        known = [v for v in map(self.value, args) if v is not None]
        if not known:
            return None
        return max(known) if name == "greatest" else min(known)


# --- Missing values and validation rules ---------------------------------------------------------


class MissingValueStrategy(StrEnum):
    """When a side of a validation rule is not evaluated, by DHIS2's names.

    - ``SKIP_IF_ANY_VALUE_MISSING``: skip when any reference is missing.
    - ``SKIP_IF_ALL_VALUES_MISSING``: skip when every reference is missing (none present).
    - ``NEVER_SKIP``: always evaluate, missing values counting as 0.

    An expression without references is never skipped.
    """

    SKIP_IF_ANY_VALUE_MISSING = "SKIP_IF_ANY_VALUE_MISSING"
    SKIP_IF_ALL_VALUES_MISSING = "SKIP_IF_ALL_VALUES_MISSING"
    NEVER_SKIP = "NEVER_SKIP"


def skipped(strategy: MissingValueStrategy, evaluation: Evaluation) -> bool:
    """Whether ``strategy`` says to skip a side evaluated as ``evaluation``."""
    if strategy is MissingValueStrategy.SKIP_IF_ANY_VALUE_MISSING:
        return bool(evaluation.missing)
    if strategy is MissingValueStrategy.SKIP_IF_ALL_VALUES_MISSING:
        return bool(evaluation.missing) and not evaluation.present
    return False


class Operator(StrEnum):
    """How a validation rule relates its left and right sides, by DHIS2's names."""

    equal_to = "equal_to"
    not_equal_to = "not_equal_to"
    greater_than = "greater_than"
    greater_than_or_equal_to = "greater_than_or_equal_to"
    less_than = "less_than"
    less_than_or_equal_to = "less_than_or_equal_to"
    compulsory_pair = "compulsory_pair"
    exclusive_pair = "exclusive_pair"


SYMBOLS: Mapping[Operator, str] = MappingProxyType(
    {
        Operator.equal_to: "==",
        Operator.not_equal_to: "!=",
        Operator.greater_than: ">",
        Operator.greater_than_or_equal_to: ">=",
        Operator.less_than: "<",
        Operator.less_than_or_equal_to: "<=",
        Operator.compulsory_pair: "compulsory pair",
        Operator.exclusive_pair: "exclusive pair",
    }
)
"""How each operator is shown between the two sides of a rule."""


def has_values(side: Evaluation) -> bool:
    """A side has values when any of its references is present; without references, when its
    value is not ``None``."""
    if side.present or side.missing:
        return bool(side.present)
    return side.value is not None


def rule_holds(operator: Operator, left: Evaluation, right: Evaluation) -> bool:
    """Whether a validation rule ``left operator right`` holds.

    - ``compulsory_pair`` holds when both sides have values or neither has (:func:`has_values`).
    - ``exclusive_pair`` holds unless both sides have values.
    - The comparisons compare the sides' values, numbers within 1e-9 (relative or absolute)
      counting as equal. When either value is ``None`` the rule cannot be evaluated and this
      returns ``True``: there is no violation to report (apply :func:`skipped` first).
    """
    if operator is Operator.compulsory_pair:
        return has_values(left) == has_values(right)
    if operator is Operator.exclusive_pair:
        return not (has_values(left) and has_values(right))
    if left.value is None or right.value is None:
        return True
    return _compare(SYMBOLS[operator], left.value, right.value)
