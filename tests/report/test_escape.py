"""Escape functions, by property: whatever the text, it opens nothing in its sink.

Markdown is checked by parsing with markdown-it-py (CommonMark, and the GFM-like preset with tables,
strikethrough and linkify) and reading the tokens, not by looking for characters.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from irkit.escape import html, md_cell, md_code, md_inline, mermaid_label, terminal

PARSERS = {"commonmark": MarkdownIt("commonmark").enable(["table", "strikethrough"]), "gfm": MarkdownIt("gfm-like")}

# Text biased toward what opens markup: every ASCII punctuation mark, digits, line breaks, ESC,
# C1 controls, bidi overrides, plus any other character.
_SYNTAX = [*"#-+=>*_`~[]()<>!&|\\$@:/.;%{}\"'0123456789 \n\r\t", "\x1b", "\x9b", "\u202e", "\u2028", "\x00"]
_FRAGMENTS = [
    "```", "~~~", "# ", "1. ", "2) ", "- ", "> ", "<script>", "</div>", "<!--", "[x](http://e.example)",
    "![i](x.png)", "<http://e.example>", "www.example.com", "https://example.com/a", "a@example.com",
    "&lt;", "&#35;", "**b**", "~~s~~", "$x$", "[^1]", "[r]: http://e.example", "---", "===", "    code",
    "\x1b]0;title\x07", "\x1b]8;;http://e.example\x1b\\link\x1b]8;;\x1b\\", "\x1b[2J",
]  # fmt: skip
hostile = st.lists(
    st.one_of(st.sampled_from(_SYNTAX), st.sampled_from(_FRAGMENTS), st.text(max_size=3)), max_size=25
).map("".join)

LIVE = {
    "heading_open", "link_open", "image", "html_inline", "html_block", "fence", "code_block", "code_inline",
    "blockquote_open", "bullet_list_open", "ordered_list_open", "hr", "table_open", "em_open", "strong_open",
    "s_open", "hardbreak", "softbreak",
}  # fmt: skip


def walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for t in tokens:
        out.append(t)
        out.extend(walk(t.children or []))
    return out


def visible(text: str) -> str:
    """What the reader should see: the text on one line, its invisible characters shown."""
    one = re.sub(r"\s+", " ", text.replace("\x85", " ").replace("\u2028", " ").replace("\u2029", " "))
    return terminal(one).strip()


def inline_text(tokens: list[Token]) -> str:
    return "".join(c.content for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "text")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(hostile)
@example("# heading [link](http://e.example) <script>alert(1)</script> ```\n\x1b[2J")
@example("1. x")
@example("www.example.com")
def test_md_inline_renders_as_its_text_and_opens_nothing(text: str) -> None:
    escaped = md_inline(text)
    assert "\n" not in escaped
    for name, parser in PARSERS.items():
        # alone (so at a line's start), inside a sentence, in a heading and in a table cell
        for doc, ours in (
            (escaped, set()),
            (f"- **rule** — {escaped}", {"bullet_list_open", "strong_open"}),
            (f"## Finding {escaped}", {"heading_open"}),
            (f"| a | b |\n|---|---|\n| {md_cell(text)} | x |", {"table_open"}),
        ):
            tokens = walk(parser.parse(doc))
            types = {t.type for t in tokens}
            assert types & LIVE <= ours, (name, doc, types & LIVE)
            if ours == {"table_open"}:
                cells = [t for t in tokens if t.type == "td_open"]
                assert len(cells) == 2, (name, doc)
            elif not ours:
                assert inline_text(parser.parse(doc)) == visible(text), (name, doc)


@settings(max_examples=300, database=None)
@given(hostile)
def test_md_code_is_one_code_span_with_the_text(text: str) -> None:
    for parser in PARSERS.values():
        tokens = walk(parser.parse(f"x {md_code(text, limit=None)} y"))
        codes = [t for t in tokens if t.type == "code_inline"]
        assert {t.type for t in tokens} & LIVE == {"code_inline"}
        assert len(codes) == 1
        assert codes[0].content.strip() == visible(text).strip()
        table = walk(parser.parse(f"| a | b |\n|---|---|\n| {md_code(text, limit=None, cell=True)} | x |"))
        assert len([t for t in table if t.type == "td_open"]) == 2
        (code,) = [t for t in table if t.type == "code_inline"]
        assert code.content.strip() == visible(text).strip()


@settings(max_examples=300, database=None)
@given(st.text())
@example("a\x1b]0;owned\x07b\x1b[2J\x9b31m\u202e\n")
def test_terminal_output_has_no_control_character(text: str) -> None:
    out = terminal(text)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]", out)
    out.encode("utf-8")  # lone surrogates are shown, never written (a write would raise)
    kept = terminal(text, newlines=True)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", kept)
    assert kept.count("\n") == text.count("\n")


def test_terminal_shows_escape_sequences_as_text() -> None:
    assert terminal("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
    assert terminal("a\nb") == "a\\nb"
    assert terminal("a\nb", newlines=True) == "a\nb"


_MERMAID_SPECIAL = re.compile(r"[:#;%`<>&\"\[\]{}\n\r\x00-\x1f\x7f-\x9f]")


@settings(max_examples=300, database=None)
@given(st.one_of(hostile, st.text()))
@example("CreateRole\n```\n# owned : x ; y %% z #58;")
def test_mermaid_label_has_none_of_the_grammar_characters(text: str) -> None:
    label = mermaid_label(text)
    assert not _MERMAID_SPECIAL.search(label)
    assert len(label) <= 100
    assert label == label.strip()


@settings(database=None)
@given(st.text())
def test_html_has_no_tag_or_attribute_break(text: str) -> None:
    out = html(text)
    assert not re.search(r"[<>\"'\x00-\x1f]", out)
    assert re.fullmatch(r"(?:[^&]|&(?:lt|gt|amp|quot|#x27);)*", out)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("abcdef", 3, "abc… (6 chars)"), ("abc", 3, "abc"), ("a" * 10, None, "a" * 10)],
)
def test_long_values_are_cut_and_say_their_length(text: str, limit: int | None, expected: str) -> None:
    assert md_inline(text, limit=limit) == expected
