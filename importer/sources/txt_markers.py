"""What a message body says about itself: system notice, deletion, call, edit, media.

WhatsApp writes these as fixed, translated phrases in the body; iOS even gives system lines a
sender, so they are recognised by their text. Phrases a customer could plausibly type ("Bob
added me") only count when WhatsApp marked the body with a leading U+200E, as iOS does for its
own notices, or when the line has no sender at all (Android notices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from importer.sources.txt_headers import clean

_I = re.IGNORECASE

_EDITED = re.compile(
    r"\s*\u200e?<(?:This message was edited|Diese Nachricht wurde bearbeitet"
    r"|Este mensaje (?:fue|se ha) editado|Ce message a été modifié|Mensagem editada"
    r"|Questo messaggio è stato modificato)\.?>\s*$",
    _I,
)

_DELETED = re.compile(
    r"(?:This message was deleted(?: by admin .*)?|You deleted this message|Message deleted"
    r"|Diese Nachricht wurde gelöscht|Du hast diese Nachricht gelöscht"
    r"|Esta mensagem foi apagada|Você apagou esta mensagem|Se eliminó este mensaje"
    r"|Eliminaste este mensaje|Este mensaje fue eliminado|Ce message a été supprimé"
    r"|Vous avez supprimé ce message|Questo messaggio è stato eliminato"
    r"|Hai eliminato questo messaggio)\.?",
    _I,
)

_CALL_TAIL = (
    r"(?:\.? *(?:\d+ ?(?:min|sec|s|h|hr|Min\.?|Sek\.?|Std\.?)|No answer|Keine Antwort"
    r"|Sin respuesta|Tap to call back|Zum Zurückrufen tippen|Toca para devolver la llamada"
    r"|Click to call back)\.?)?"
)
_CALL = re.compile(
    r"(?:Missed (?:group )?(?:voice|video) call|Verpasste[rs]? (?:Sprach|Video|Gruppen)anruf"
    r"|Llamada (?:de voz )?perdida|Videollamada perdida|(?:Voice|Video|Group) call"
    rf"|(?:Sprach|Video)anruf|Llamada de voz|Videollamada){_CALL_TAIL}",
    _I,
)

# Whole-line phrases only WhatsApp writes.
_SYSTEM = re.compile(
    r"(?:Messages and calls are end-to-end encrypted|Messages to this (?:group|chat) are now"
    r"|Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt"
    r"|Los mensajes y (?:las )?llamadas están cifrad|Les messages et les appels sont chiffrés"
    r"|I messaggi e le chiamate sono crittografati|As mensagens e as chamadas são protegidas"
    r"|Your security code with .+ changed|Ihr Sicherheitscode für .+ hat sich geändert"
    r"|Tu código de seguridad con .+ cambió|You (?:un)?blocked this contact"
    r"|Du hast diesen Kontakt (?:blockiert|freigegeben)|This chat is with a business account"
    r"|.*\bturned (?:on|off) disappearing messages|.*\bupdated the message timer"
    r"|.*\buses a default timer for disappearing messages|Disappearing messages were turned"
    r"|.* hat selbstlöschende Nachrichten|.+ changed (?:their|his|her) phone number"
    r"|.+ changed to \+?[\d ()\-\u2011]{6,}$|.+ hat (?:seine|ihre) Telefonnummer"
    r"|.+ created group [\"“„'].*|.+ created this group|Du hast die Gruppe .+ erstellt"
    r"|.+ hat die Gruppe .+ erstellt|.+ joined using (?:this group's|your) invite link"
    r"|.+ changed the subject (?:from .+ )?to [\"“'].*|.+ changed (?:this group's|the group)"
    r" (?:icon|description|settings|name)|.+ deleted this group's icon|You're now an admin"
    r"|Waiting for this message|.+ (?:is|are) now an admin)",
    _I,
)
# Group events a customer might also type; trusted only when WhatsApp marked the line.
_GROUP_EVENT = re.compile(
    r".+ (?:added|removed|left|joined|hinzugefügt|entfernt|verlassen|beigetreten)\b.*", _I
)

_OMITTED_TAG = re.compile(
    r"<[^<>]*(?:omitted|ausgeschlossen|weggelassen|omitido|omitida|omis|oculta|omesso)>", _I
)
# At the end of the line, after an optional document description (`a.pdf • 3 pages `), which
# is checked by hand: a leading `(?:.+ • .+ )?` takes quadratic time on a line of bullets.
_OMITTED_WORDS = re.compile(
    r"(?:^| )(?:image|photo|video|audio|sticker|GIF|document|video note|contact card"
    r"|Kontaktkarte|Bild|Dokument|imagen|vídeo|documento)"
    r" (?:omitted|weggelassen|omitido|omitida)\Z",
    _I,
)
_ANDROID_ATTACHED = re.compile(
    r"(?P<name>.+?) \((?:file attached|Datei angehängt|archivo adjunto|fichier joint"
    r"|arquivo anexado|file allegato)\)",
    _I,
)
# A document's description (`report.pdf • 2 pages `) may precede the tag on its line; it is
# looked for by hand, as a leading optional group would make every search quadratic.
_IOS_ATTACHED = re.compile(
    r"<(?:attached|Anhang|adjunto|allegato|anexo|pièce jointe"
    r"|附件|添付ファイル|첨부 파일|첨부)\s*[:\uff1a]\s*(?P<name>[^<>\n]+?)\s*>",
    _I,
)


def without_edited_marker(text: str) -> str:
    """`text` without the ` <This message was edited>` note WhatsApp appends."""
    return _EDITED.sub("", text)


def skip_kind(body: str, has_sender: bool, marked: bool) -> str | None:
    """Why a message body is not imported ("system", "deleted", "call", "empty"), or None."""
    if not has_sender:
        return "system"
    first = clean(body).strip()
    if not first:
        return "empty"
    if "\n" in first:
        first_line = first.split("\n", 1)[0].strip()
        return "system" if _SYSTEM.match(first_line) else None
    if _DELETED.fullmatch(first):
        return "deleted"
    if _CALL.fullmatch(first):
        return "call"
    if _SYSTEM.match(first) or (marked and _GROUP_EVENT.fullmatch(first)):
        return "system"
    return None


def is_system_text(text: str) -> bool:
    """Whether a header's whole remainder is a notice, whatever seems to be its sender.

    `X changed the subject to "Re: plans"` splits like `Sender: text` at the quoted colon.
    """
    return _SYSTEM.match(clean(text).strip()) is not None


@dataclass(frozen=True, slots=True)
class Media:
    """A media message: the file name when the export carries a file, and the caption."""

    name: str | None  # None: exported without the file (the placeholder stays as text)
    caption: str
    placeholder: str


def _is_omitted(line: str) -> bool:
    """Whether a (cleaned, stripped) first line is a placeholder for media left out."""
    if _OMITTED_TAG.fullmatch(line):
        return True
    words = _OMITTED_WORDS.search(line)
    if words is None:
        return False
    description = line[: words.start()]
    # Nothing before the words, or `something • something` (both sides non-empty).
    return not description or " • " in description[1:-1]


def media_of(body: str) -> Media | None:
    """The media a body refers to, or None for a plain text message."""
    first, _, rest = body.partition("\n")
    stripped = clean(first).strip()
    if _is_omitted(stripped):
        return Media(None, rest.strip("\n"), first.strip())
    android = _ANDROID_ATTACHED.fullmatch(first.strip())
    if android is not None:
        return Media(android["name"].strip(), rest.strip("\n"), first.strip())
    ios = _IOS_ATTACHED.search(body)
    if ios is None:
        return None
    start = ios.start()
    run = max(body.rfind("\n", 0, start), body.rfind("<", 0, start)) + 1
    if " • " in body[run:start]:
        start = run
    caption = (body[:start] + body[ios.end() :]).strip()
    return Media(clean(ios["name"]).strip(), caption, body[start : ios.end()].strip())
