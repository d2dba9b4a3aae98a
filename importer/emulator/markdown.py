"""WhatsApp Markdown to the `message_html` and `text` Close derives from `message_markdown`.

Each line is HTML-escaped before any markup is added, and markup is only ever one of a fixed set
of tags, so no message can inject HTML: `*bold*` <strong>, `_italic_` <em>, `~strike~` <s>,
```` ```monospace``` ```` and `` `inline code` `` <code>, `> ` quotes <blockquote>, `- `/`* `
lists <ul>, `1. ` lists <ol> (each <li value="N"> as typed), line breaks <br>.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# Monospace may span lines; inline code may not. Inside either, nothing is formatted.
_CODE = re.compile(r"```(.+?)```|`([^`\n]+)`", re.DOTALL)
_SPANS = {"*": "strong", "_": "em", "~": "s"}
_BLOCKS = re.compile(r"(?P<quote>> )|(?P<ul>[-*] )|(?P<ol>(?P<number>\d{1,9})\. )")

Piece = tuple[bool, str]  # (is code, raw text)


@dataclass
class _Line:
    kind: str  # "", "quote", "ul" or "ol"
    pieces: list[Piece] = field(default_factory=list)
    number: int = 0  # "ol": the number the line was typed with


def to_html(markdown: str) -> str:
    """Escaped HTML holding no tags but those in the module docstring."""
    parts: list[str] = []
    lines = [_block(line) for line in _lines(markdown)]
    start = 0
    while start < len(lines):
        kind = lines[start].kind
        end = start
        while end < len(lines) and lines[end].kind == kind:
            end += 1
        group = lines[start:end]
        if kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in group) + "</ul>")
        elif kind == "ol":
            items = "".join(f'<li value="{x.number}">{_inline(x)}</li>' for x in group)
            parts.append(f"<ol>{items}</ol>")
        elif kind == "quote":
            parts.append("<blockquote>" + "<br>".join(map(_inline, group)) + "</blockquote>")
        else:
            parts.append("<br>".join(map(_inline, group)))
        start = end
    return "".join(parts)


def to_text(markdown: str) -> str:
    """The message as plain text: the span and code markers removed, lines as typed."""
    return "\n".join(
        "".join(raw if code else _spans(raw, tagged=False) for code, raw in line.pieces)
        for line in _lines(markdown)
    )


def _lines(markdown: str) -> list[_Line]:
    """The message's lines, each a run of text and code pieces; code may hold newlines."""
    lines = [_Line("")]
    position = 0
    for match in _CODE.finditer(markdown):
        _add_text(lines, markdown[position : match.start()])
        body = match.group(1) if match.group(1) is not None else match.group(2)
        lines[-1].pieces.append((True, body))
        position = match.end()
    _add_text(lines, markdown[position:])
    return lines


def _add_text(lines: list[_Line], text: str) -> None:
    first, *rest = text.split("\n")
    if first:
        lines[-1].pieces.append((False, first))
    for raw in rest:
        lines.append(_Line("", [(False, raw)] if raw else []))


def _block(line: _Line) -> _Line:
    """The line with a leading `> `, `- `, `* ` or `1. ` taken as its block kind."""
    if not line.pieces or line.pieces[0][0]:
        return line
    text = line.pieces[0][1]
    match = _BLOCKS.match(text)
    if match is None:
        return line
    kind = match.lastgroup if match.lastgroup != "number" else "ol"
    rest = text[match.end() :]
    pieces = ([(False, rest)] if rest else []) + line.pieces[1:]
    return _Line(kind or "", pieces, int(match.group("number") or 0))


def _inline(line: _Line) -> str:
    return "".join(
        _code(raw) if code else _spans(html.escape(raw), tagged=True) for code, raw in line.pieces
    )


def _code(raw: str) -> str:
    return "<code>" + html.escape(raw).replace("\n", "<br>") + "</code>"


def _spans(text: str, tagged: bool) -> str:
    """Bold, italic and strike in one line; the markers must hug the text at word edges.

    The span closes at the next same marker, so its content never holds that marker and
    nesting (`*_both_*`) is proper by construction. Escaped text is safe to scan: markers never
    occur inside an entity, and an entity begins and ends with non-word characters (`&`, `;`)
    just as the character it stands for does.
    """
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        close = _closing(text, position) if char in _SPANS else -1
        if close < 0:
            out.append(char)
            position += 1
            continue
        inner = _spans(text[position + 1 : close], tagged)
        tag = _SPANS[char]
        out.append(f"<{tag}>{inner}</{tag}>" if tagged else inner)
        position = close + 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """Where the span opened at `start` closes, or -1 when `start` opens none."""
    marker = text[start]
    before = text[start - 1] if start else " "
    if _wordy(before) or before == marker or start + 1 >= len(text) or text[start + 1].isspace():
        return -1
    close = text.find(marker, start + 2)
    if close < 0 or text[close - 1].isspace():
        return -1
    after = text[close + 1] if close + 1 < len(text) else " "
    if _wordy(after) or after == marker:
        return -1
    return close


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"
