"""Safe arithmetic for the built-in calculator tool (no CrewAI here: testable anywhere).

The expression is parsed with :mod:`ast` and only numbers, arithmetic operators,
parentheses and a few functions and constants of :mod:`math` are evaluated: no names,
attributes, subscripts or other calls, so a model (or a prompt injected into one)
cannot reach Python through it; and no result too large to print, so ``9 ** 9 ** 9``
is refused at once instead of eating the worker's CPU.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

MAX_EXPRESSION_CHARS = 500
MAX_RESULT_DIGITS = 1000
_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: getattr(math, name)
    for name in (
        "sqrt",
        "exp",
        "log",
        "log10",
        "log2",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "floor",
        "ceil",
        "factorial",
        "gcd",
        "radians",
        "degrees",
        "hypot",
    )
} | {"abs": abs, "round": round, "min": min, "max": max}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalculationError(ValueError):
    """An expression the calculator does not take, in words for the model."""


def calculate(expression: str) -> int | float:
    """Evaluate arithmetic safely: numbers, + - * / // % **, parentheses, a few math
    functions and constants; nothing else of Python (no names, attributes, calls
    beyond those), and no result too large to print."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculationError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise CalculationError(f"not an arithmetic expression ({exc.msg})") from None
    result = _value(tree.body)
    if not isinstance(result, int | float):
        raise CalculationError("the result is not a number")
    return result


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if (
            isinstance(node.op, ast.Pow)
            and abs(right) * math.log10(max(abs(left), 2)) > MAX_RESULT_DIGITS
        ):
            raise CalculationError("the result would be too large")
        if isinstance(node.op, ast.Mult) and _digits(left) + _digits(right) > MAX_RESULT_DIGITS:
            raise CalculationError("the result would be too large")
        try:
            return _OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculationError("division by zero") from None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        args = [_value(arg) for arg in node.args]
        if node.func.id == "factorial" and args and abs(args[0]) > 400:
            raise CalculationError("the result would be too large")
        try:
            return _FUNCTIONS[node.func.id](*args)
        except (ValueError, TypeError, OverflowError) as exc:
            raise CalculationError(f"{node.func.id}: {exc}") from None
    raise CalculationError(f"'{ast.unparse(node)[:60]}' is not something the calculator takes")


def _digits(value: Any) -> int:
    return len(str(abs(int(value)))) if isinstance(value, int) else 0
