"""Risk-rule conditions of the WA custom-lens format: parse, inspect, evaluate, render.

A risk rule's ``condition`` is either the keyword ``default`` or a Boolean expression over the
question's choice ids with ``&&`` (and), ``||`` (or), ``!`` (not) and parentheses, e.g.
``(choice_1 || choice_2) && !choice_3`` (AWS WA Tool user guide, "Lens format specification",
section "Risk Rules"). A choice id stands for "this choice is selected". ``&&`` binds tighter
than ``||``; ``!`` binds tightest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT = "default"

_TOKEN = re.compile(r"&&|\|\||!|\(|\)|[A-Za-z0-9_-]+")


class ConditionError(ValueError):
    """A condition is not a valid expression; the message names the position and the problem."""


@dataclass(frozen=True)
class Var:
    """A choice id: true when that choice is selected."""

    name: str


@dataclass(frozen=True)
class Not:
    """Negation of an expression."""

    operand: Expr


@dataclass(frozen=True)
class And:
    """True when every operand is true."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """True when at least one operand is true."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Default:
    """The ``default`` condition: always true (the rule that applies when no other does)."""


Expr = Var | Not | And | Or | Default


def _tokens(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ConditionError(f"unexpected character {text[pos]!r} at position {pos}")
        out.append((match.group(0), pos))
        pos = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, int]:
        if self.i >= len(self.tokens):
            raise ConditionError("expression ends too early (a choice id or '(' is missing)")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.i < len(self.tokens):
            token, pos = self.tokens[self.i]
            raise ConditionError(f"unexpected {token!r} at position {pos}")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.peek() == "||":
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.unary()]
        while self.peek() == "&&":
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Expr:
        token, pos = self.take()
        if token == "!":
            return Not(self.unary())
        if token == "(":
            inner = self.or_expr()
            if self.peek() != ")":
                raise ConditionError(f"missing ')' for the '(' at position {pos}")
            self.take()
            return inner
        if token in ("&&", "||", ")"):
            raise ConditionError(f"expected a choice id at position {pos}, found {token!r}")
        if token == DEFAULT:
            raise ConditionError("'default' must be the whole condition, not part of one")
        return Var(token)


def parse_condition(text: str) -> Expr:
    """Parse a risk-rule condition into an expression tree.

    Raises:
        ConditionError: when the text is empty or not a valid expression.
    """
    if not text or not text.strip():
        raise ConditionError("condition is empty")
    if text.strip() == DEFAULT:
        return Default()
    return _Parser(text).parse()


def referenced_choices(expr: Expr) -> set[str]:
    """The choice ids an expression mentions."""
    if isinstance(expr, Var):
        return {expr.name}
    if isinstance(expr, Not):
        return referenced_choices(expr.operand)
    if isinstance(expr, And | Or):
        return set().union(*(referenced_choices(op) for op in expr.operands))
    return set()


def evaluate(expr: Expr, selected: Iterable[str]) -> bool:
    """True when the expression holds for the set of selected choice ids."""
    chosen = selected if isinstance(selected, set | frozenset) else set(selected)
    return _eval(expr, chosen)


def _eval(expr: Expr, chosen: set[str] | frozenset[str]) -> bool:
    if isinstance(expr, Default):
        return True
    if isinstance(expr, Var):
        return expr.name in chosen
    if isinstance(expr, Not):
        return not _eval(expr.operand, chosen)
    if isinstance(expr, And):
        return all(_eval(op, chosen) for op in expr.operands)
    return any(_eval(op, chosen) for op in expr.operands)


def all_of(choice_ids: Iterable[str]) -> str:
    """Render "every one of these choices is selected": ``a && b && c``."""
    ids = list(choice_ids)
    if not ids:
        raise ValueError("all_of needs at least one choice id")
    return " && ".join(ids)


def any_of(choice_ids: Iterable[str]) -> str:
    """Render "at least one of these choices is selected": ``a || b || c``."""
    ids = list(choice_ids)
    if not ids:
        raise ValueError("any_of needs at least one choice id")
    return " || ".join(ids)
