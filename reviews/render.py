"""Jinja2 rendering of the review templates (prompts and reports) in ``reviews/templates``.

HTML templates (``*.html.j2``) are autoescaped; Markdown and prompt templates are not (their
untrusted parts are wrapped and sanitised by the caller).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared template environment (strict: an undefined variable is an error)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``reviews/templates/<name>`` with ``context``."""
    return environment().get_template(name).render(**context)
