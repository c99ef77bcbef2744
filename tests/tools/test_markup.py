"""Markup payloads rendered inert by the one helper per output format."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from tools import markup

PAYLOADS = [
    "\x1b[2J\x1b[H cleared",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "\x9b31m 8-bit CSI",
    "[bold red]rich markup[/bold red]",
    "[link=https://evil.example]x[/link]",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![img](https://evil.example/p.png)",
    "# Injected heading",
    "a | b | c",
    "line one\n## second section",
    "<!channel> wake up",
    "<!here|here>",
    "<@U0123456> ping",
    "<https://evil.example|totally safe>",
    "*bold* _italic_ ~strike~ `code`",
    "&lt;!channel&gt; pre-escaped",
    "\u202eevil\u202c bidi",
    "zero\u200bwidth",
    "```block```",
    "<!subteam^S0123>",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_terminal_inert(payload: str) -> None:
    console = Console(record=True, width=200, force_terminal=True, color_system=None)
    console.print(markup.terminal(payload))
    out = console.export_text()
    assert "\x1b" not in out and "\x9b" not in out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out)
    if payload.startswith("[bold"):
        assert "[bold red]" in out  # shown, not interpreted


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_inert(payload: str) -> None:
    out = markup.markdown_inline(payload)
    assert "\n" not in out
    assert "<" not in out  # no raw HTML
    assert not re.search(r"(?<!\\)[\[\]()|#`*_!]", out)  # every opener escaped


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_inert(payload: str) -> None:
    out = markup.html(payload)
    assert "<" not in out and ">" not in out and '"' not in out


@pytest.mark.parametrize("payload", PAYLOADS)
def test_mrkdwn_inert(payload: str) -> None:
    for out in (markup.mrkdwn(payload), markup.mrkdwn_code(payload)):
        assert "<" not in out and ">" not in out
        assert "<!" not in out and "<@" not in out
    assert not re.search(r"[*_~`]", markup.mrkdwn(payload))
    code = markup.mrkdwn_code(payload)
    assert code.startswith("`") and code.endswith("`") and code.count("`") == 2


def test_links_only_to_built_https_urls() -> None:
    assert markup.markdown_link("guide", "https://docs.aws.amazon.com/x/y.html") == (
        "[guide](https://docs.aws.amazon.com/x/y.html)"
    )
    for url in ("javascript:alert(1)", "http://x.example", "https://x.example/a b", "https://x)(y"):
        assert "](" not in markup.markdown_link("guide", url)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Remote Vehicle Management API", True),
        ("auth-service", True),
        ("ts-order-service", True),
        ("https://evil.example", False),
        ("[x](javascript:alert(1))", False),
        ("<b>x</b>", False),
        ("a\x1b[2Jb", False),
        ("x" * 500, False),
    ],
)
def test_safe_name(name: str, ok: bool) -> None:
    assert (markup.safe_name(name) is not None) is ok


def test_ordinary_text_survives() -> None:
    assert markup.terminal("Timeout after 3000 ms") == "Timeout after 3000 ms"
    assert markup.html("p99 latency 3 s") == "p99 latency 3 s"
    assert markup.mrkdwn("checkout returns 502") == "checkout returns 502"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("network_config", "network_config"),
        ("DB_HOST and rca_tools_role_2", "DB_HOST and rca_tools_role_2"),
        ("_italic_", "＿italic＿"),
        ("a _b_ c", "a ＿b＿ c"),
        ("trailing_ and _leading", "trailing＿ and ＿leading"),
        ("double__under", "double＿＿under"),
        ("(_x_)", "(＿x＿)"),
    ],
)
def test_mrkdwn_keeps_underscores_inside_words_plain(text: str, shown: str) -> None:
    """Slack forms ``_italic_`` only at word boundaries: an underscore between letters or digits
    stays an underscore; one that could open or close italics gets the look-alike."""
    assert markup.mrkdwn(text) == shown
    # no underscore left that Slack could read as an italic marker
    assert not re.search(r"(?:^|[^\w])_|_(?:$|[^\w])", markup.mrkdwn(text))
