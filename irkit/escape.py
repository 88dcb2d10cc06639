"""Escape hostile text for the place it lands: a markdown line or table cell, a mermaid label,
HTML, a terminal.

CloudTrail field values, archive object keys and everything derived from them (finding details,
chain identifiers, gap paths, step summaries) are written by whoever held the credentials. Each sink
has its own grammar, so each has its own function; call the one for the sink, where the string is
put into it (never store escaped text, never escape twice).

```python
f"- **{md_inline(rule_id)}**: {md_inline(detail)}"      # a bullet
f"    {stamp} : {mermaid_label(what)}"                   # a mermaid timeline event
typer.echo(terminal(line, newlines=True))                # the screen
```
"""

from __future__ import annotations

import html as _html
import re

__all__ = ["html", "md_code", "md_inline", "mermaid_label", "terminal", "truncate"]

# Characters a terminal or a renderer acts on instead of showing: C0 controls (ESC starts CSI/OSC
# sequences: titles, hyperlinks, clear-screen), DEL, C1 controls (0x9b is a one-byte CSI), the
# Unicode line and paragraph separators, bidirectional overrides (text that reads differently from
# what it is) and zero-width characters, the BOM, and lone surrogates (unencodable: a write raises).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _show(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was (a forged value can be megabytes)."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} chars)"


def terminal(text: object, *, newlines: bool = False, limit: int | None = None) -> str:
    """``text`` safe to write to a terminal: every control character shown as ``\\x1b``, ``\\n``, …

    With ``newlines`` the line feeds of a multi-line block (a table) are kept; without, a forged
    newline cannot start a line of its own.
    """
    s = truncate(str(text), limit)

    def show(m: re.Match[str]) -> str:
        ch = m.group(0)
        return ch if newlines and ch == "\n" else _show(ch)

    return _INVISIBLE.sub(show, s)


# Backslash-escaped wherever they are: each can start inline syntax (code spans, emphasis,
# strikethrough, links, images, autolinks, raw HTML, entities, table cells, math, mentions) or,
# at a line's start, a block (headings, block quotes, fences).
_MD_ALWAYS = re.compile(r"([\\`*~\[\]<>&|!$#@])")
# An underscore between two letters or digits can neither open nor close emphasis (CommonMark's
# flanking rules): ``iam_role_created`` stays readable in the raw text.
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# Autolinks that need no bracket: GFM's "www." and "scheme://", linkify's bare domains. Escaping
# the dot between a word and a letter, and the slashes after a colon, breaks each of them apart.
_MD_DOMAIN_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z])")
# A line that starts like a list item or a setext underline.
_MD_LEADING = re.compile(r"^([-+=])|^(\d+)([.)])")
_SPACES = re.compile(r"\s+")


def _one_line(text: str) -> str:
    # Line breaks and tabs become one space (a markdown line must stay one line); every other
    # invisible character is shown, as on a terminal.
    text = _SPACES.sub(" ", text.replace("\x85", " ").replace("\u2028", " ").replace("\u2029", " "))
    return terminal(text).strip()


def md_inline(text: object, *, limit: int | None = None) -> str:
    """``text`` as literal markdown text on one line: it renders as itself and opens nothing (no
    heading, list, quote, fence, code span, emphasis, link, image, autolink, HTML, entity or table
    cell), whether it stands inside a sentence, in a table cell or at the start of a line."""
    s = _one_line(truncate(str(text), limit))
    s = _MD_ALWAYS.sub(r"\\\1", s)
    s = _MD_UNDERSCORE.sub(r"\\_", s)
    s = _MD_DOMAIN_DOT.sub(r"\\.", s)
    s = s.replace("://", ":\\/\\/")
    return _MD_LEADING.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", s)


def md_cell(text: object, *, limit: int | None = 300) -> str:
    """A table cell: :func:`md_inline` (pipes included) with a length cap, so one forged value
    cannot make a row megabytes long."""
    return md_inline(text, limit=limit)


def md_code(text: object, *, limit: int | None = 300, cell: bool = False) -> str:
    """``text`` as an inline code span (monospace, nothing inside is markup): the fence is one
    backtick longer than the longest run inside, so the value cannot close it. In a table
    (``cell``) pipes are backslash-escaped: GFM splits cells on them even inside code."""
    s = _one_line(truncate(str(text), limit))
    if cell:
        s = s.replace("|", "\\|")
    if not s:
        return "` `"
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (s.startswith(" ") and s.endswith(" ")) else ""
    return f"{fence}{pad}{s}{pad}{fence}"


# Mermaid's own grammar: ':' separates a period from its events, '#' starts a comment or an entity
# code ('#58;'), ';' ends a statement or an entity, '%%' starts a comment or a directive, a newline
# ends the statement, backticks open a markdown string and '<', '>', '&', quotes and brackets are
# HTML or shape syntax in other diagrams. A label keeps what is plainly text and turns the rest
# into spaces.
_MERMAID_KEEP = re.compile(r"[^\w \-./,+=@()'!?*]", re.UNICODE)


def mermaid_label(text: object, *, limit: int = 100) -> str:
    """``text`` safe as a mermaid label (a timeline event): none of ``: # ; % ` < > & " [ ] { }``,
    no newline, no control character, at most ``limit`` characters."""
    s = _MERMAID_KEEP.sub(" ", str(text))
    s = _SPACES.sub(" ", s).strip()
    return s[:limit].rstrip()


def html(text: object) -> str:
    """``text`` as HTML text or an attribute value: ``< > & " '`` as entities, controls shown."""
    return _html.escape(terminal(text), quote=True)
