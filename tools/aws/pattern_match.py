"""Matching the templates of two separate Logs Insights ``pattern`` queries.

``pattern`` clusters only the events of its own query, so the same lines can come out as two
template texts when the window and the baseline are mined by two queries: a position that varied
in one period and not in the other is a dynamic token in one template only (``<*>``, or an
inferred ``<Name-n>`` whose number is its rank among the template's dynamic tokens, so the
numbers shift too). CWL_QuerySyntax-Pattern: "If CloudWatch Logs can't infer the type of data
that a dynamic token represents, displays it as <Token-number>";
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Pattern.html and the
``PatternToken`` API reference ("If this is a dynamic token, the value will be <*>").

:func:`match_templates` pairs a window template without an exact baseline template with the
baseline template it equals up to dynamic tokens, conservatively:

- same number of whitespace-separated tokens (a pattern never spans lines of another length),
  and at every position the tokens are equal or one is matched by the other with its dynamic
  tokens read as wildcards;
- the positions where both are constant and equal (``shared``) leave out *generic* tokens,
  those constant in more than half of the baseline's templates (a log prefix, a service name,
  a level); ``shared`` must hold at least :data:`MIN_SHARED` tokens and at least as many as
  the positions where only one of the two is constant (a very general template such as
  ``ERROR <*> <*> <*>`` matches nothing);
- the severity labels (``@severityLabel``) agree when both are given;
- one-to-one: the window template has exactly one such baseline candidate and that candidate
  exactly one such window template; anything ambiguous stays unmatched (a new template then,
  a possible false alarm rather than a hidden new error).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from tools.aws.logs_insights import DYNAMIC_TOKEN

WILDCARD = "<*>"
MIN_SHARED = 2
"""Fewest non-generic constant tokens two matched templates share."""


def _tokens(template: str) -> list[str]:
    """Whitespace tokens with every dynamic token written ``<*>``."""
    return DYNAMIC_TOKEN.sub(WILDCARD, template).split()


def _covers(general: str, token: str) -> bool:
    """Whether ``general`` (holding ``<*>``) matches ``token`` with ``<*>`` as a wildcard."""
    pattern = ".*".join(re.escape(p) for p in general.split(WILDCARD))
    return re.fullmatch(pattern, token, flags=re.DOTALL) is not None


def _constants(tokens: Sequence[str]) -> set[str]:
    return {t for t in tokens if WILDCARD not in t}


def _score(left: Sequence[str], right: Sequence[str], generic: set[str]) -> tuple[int, int] | None:
    """``(shared, generalized)`` token counts, or None when the two cannot be the same lines."""
    if len(left) != len(right):
        return None
    shared = generalized = 0
    for a, b in zip(left, right, strict=True):
        var_a, var_b = WILDCARD in a, WILDCARD in b
        if a == b:
            shared += not var_a and a not in generic
        elif var_a and var_b:
            if not (_covers(a, b) or _covers(b, a)):
                return None
        elif var_a or var_b:
            if not (_covers(a, b) if var_a else _covers(b, a)):
                return None
            generalized += 1
        else:
            return None
    return shared, generalized


def match_templates(
    window: Sequence[str],
    baseline: Sequence[str],
    severity: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """``{window template: baseline template}`` for the window templates that are the same
    template as one baseline template up to dynamic tokens (module docstring for the rules).

    ``window`` and ``baseline`` are templates of two ``pattern`` queries that found no exact
    counterpart in the other query; ``severity`` maps a template (of either) to its
    ``@severityLabel`` when Logs Insights gave one. Pure text; no query.
    """
    severity = severity or {}
    base_tokens = {b: _tokens(b) for b in dict.fromkeys(baseline)}
    frequency = Counter(t for toks in base_tokens.values() for t in _constants(toks))
    limit = len(base_tokens) / 2
    generic = {t for t, n in frequency.items() if len(base_tokens) >= 3 and n > limit}
    candidates: dict[str, list[str]] = {}
    for w in dict.fromkeys(window):
        w_tokens = _tokens(w)
        found = []
        for b, b_tokens in base_tokens.items():
            score = _score(w_tokens, b_tokens, generic)
            if score is None:
                continue
            shared, generalized = score
            if shared < MIN_SHARED or shared < generalized:
                continue
            sw, sb = severity.get(w), severity.get(b)
            if sw and sb and sw != sb:
                continue
            found.append(b)
        candidates[w] = found
    claimed = Counter(b for found in candidates.values() for b in found)
    return {
        w: found[0] for w, found in candidates.items() if len(found) == 1 and claimed[found[0]] == 1
    }
