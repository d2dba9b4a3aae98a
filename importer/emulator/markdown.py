"""WhatsApp Markdown to the `message_html` and `text` Close derives from `message_markdown`."""

from __future__ import annotations

import html
import re

_MONO = re.compile(r"```(.+?)```", re.DOTALL)
# WhatsApp formats only when the markers hug the text and stand at word edges: `2*3*4` stays as is.
_SPANS = [
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
]


def _inline(text: str, tagged: bool) -> str:
    for pattern, tag in _SPANS:
        replacement = rf"<{tag}>\1</{tag}>" if tagged else r"\1"
        text = pattern.sub(replacement, text)
    return text


def _convert(markdown: str, tagged: bool) -> str:
    parts: list[str] = []
    position = 0
    for match in _MONO.finditer(markdown):
        before = markdown[position : match.start()]
        parts.append(_inline(html.escape(before) if tagged else before, tagged))
        body = match.group(1)
        # Monospace shows its content verbatim: no bold or italics inside.
        parts.append(f"<code>{html.escape(body)}</code>" if tagged else body)
        position = match.end()
    rest = markdown[position:]
    parts.append(_inline(html.escape(rest) if tagged else rest, tagged))
    joined = "".join(parts)
    return joined.replace("\n", "<br>") if tagged else joined


def to_html(markdown: str) -> str:
    """Escaped HTML with <strong>, <em>, <s>, <code> and <br>."""
    return _convert(markdown, tagged=True)


def to_text(markdown: str) -> str:
    """The message as plain text: the formatting markers removed."""
    return _convert(markdown, tagged=False)
