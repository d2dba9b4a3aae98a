"""The chat's name in an export's file name: `WhatsApp Chat with NAME.txt`, in every language.

Android names the text file after the chat, iOS the zip (`WhatsApp Chat - NAME.zip` holding
`_chat.txt`). NAME is the other party of a one-to-one chat, as the phone's address book shows it,
or their number when they are not in it.
"""

from __future__ import annotations

import re

# The localised titles, with or without the hyphenated brand (`WhatsApp-Chat mit`).
_PREFIXES = (
    r"WhatsApp[- ]Chat with|WhatsApp[- ]Chat - |WhatsApp[- ]Chat \u2013 |WhatsApp[- ]Chat mit"
    r"|WhatsApp[- ]chat met|Chat de WhatsApp con|Chat WhatsApp con|Chat WhatsApp avec"
    r"|Discussion WhatsApp avec|Conversa do WhatsApp com|Conversa de WhatsApp com"
    r"|Czat WhatsApp z|WhatsApp[- ]Chat med|WhatsApp-keskustelu|Чат WhatsApp \u0441|Чат WhatsApp з"
)
_TITLE = re.compile(rf"(?:{_PREFIXES}) ?(?P<name>.+?)(?: \(\d+\))?", re.IGNORECASE)
# Chinese: `与X的 WhatsApp 聊天`, `與X的 WhatsApp 對話`.
_TITLE_ZH = re.compile(r"[与與](?P<name>.+?)的 ?WhatsApp ?(?:聊天|對話|对话)(?: \(\d+\))?")


def chat_title(file_name: str) -> str | None:
    """NAME of `WhatsApp Chat with NAME.txt` (any localised title, any extension), or None."""
    stem = file_name.rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    match = _TITLE.fullmatch(stem) or _TITLE_ZH.fullmatch(stem)
    if match is None:
        return None
    return match["name"].strip() or None
