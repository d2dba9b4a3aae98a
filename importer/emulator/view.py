"""The read-only conversation view for people: `/` lists the leads, `/leads/ID` is a chat.

Server-rendered HTML with a little CSS and no script, so it works offline. Times are shown in
the emulator's `view_timezone` (else this machine's zone), or in a page's `?tz=Area/City`.
`/messages/ID` (a Close activity id or a WhatsApp message id) redirects to the page holding it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from aiohttp import web

from importer.emulator import conversations
from importer.emulator.appkeys import STATE
from importer.emulator.state import EmulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


class _Links:
    """URLs within the view that keep the page's `?tz=`."""

    def __init__(self, tz: str | None) -> None:
        self._tz = tz

    def index(self) -> str:
        return "/" + self._query()

    def lead(self, lead_id: str, page: int = 1, anchor: str = "") -> str:
        query = self._query(page=page) if page != 1 else self._query()
        return f"/leads/{lead_id}{query}" + (f"#{anchor}" if anchor else "")

    def message(self, activity_id: str) -> str:
        return f"/messages/{activity_id}{self._query()}"

    def quote(self, quote: conversations.Quote, page: int, lead_id: str) -> str:
        """Where a reply's quote points: on this page, on another page, or via its own link."""
        if quote.page is None or quote.lead_id != lead_id:
            return self.message(quote.id)
        if quote.page == page:
            return f"#{quote.id}"
        return self.lead(lead_id, quote.page, quote.id)

    def _query(self, **extra: Any) -> str:
        pairs = {**extra, **({"tz": self._tz} if self._tz else {})}
        return "?" + urlencode(pairs, safe="/") if pairs else ""


def _render(template: str, status: int = 200, **context: Any) -> web.Response:
    html = _ENVIRONMENT.get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html")


def _problem(status: int, message: str) -> web.Response:
    return _render("problem.html", status, message=message, links=_Links(None))


class _UnknownZone(Exception):
    pass


def _zone(request: web.Request, state: EmulatorState) -> tuple[tzinfo, str | None]:
    """The zone the page shows times in, and the `?tz=` to keep in its links (None: default)."""
    asked = request.query.get("tz", "").strip()
    if not asked:
        if state.config.view_timezone is not None:
            return ZoneInfo(state.config.view_timezone), None
        from importer.clock import machine_zone

        return machine_zone(), None
    try:
        return ZoneInfo(asked), asked
    except (ZoneInfoNotFoundError, ValueError):
        raise _UnknownZone(asked) from None


def _view(handler: Handler) -> Handler:
    """A view route: counted as "view", and an unknown `?tz=` answered with one clear page."""

    async def answer(request: web.Request) -> web.StreamResponse:
        request.app[STATE].count_request(request.method, "view")
        try:
            return await handler(request)
        except _UnknownZone as exc:
            return _problem(
                400, f"Unknown time zone {exc.args[0]!r}: use Area/City, e.g. Europe/Berlin."
            )

    return answer


@_view
async def index(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    zone, tz = _zone(request, state)
    rows = conversations.summaries(state, zone)
    return _render(
        "index.html",
        with_messages=[r for r in rows if r.messages],
        without_messages=[r for r in rows if not r.messages],
        total=len(state.activities),
        zone=zone,
        tz=tz,
        links=_Links(tz),
    )


@_view
async def lead_page(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    zone, tz = _zone(request, state)
    lead = state.leads.get(request.match_info["lead_id"])
    if lead is None:
        return _problem(404, "There is no such lead in this emulator.")
    messages = conversations.thread(state, lead.id)
    pages = conversations.page_count(len(messages))
    raw = request.query.get("page", "1")
    number = int(raw) if raw.isdigit() else 0
    if not 1 <= number <= pages:
        return _problem(404, f"No page {raw!r}: this conversation has pages 1 to {pages}.")
    shown = conversations.page(state, lead, messages, number, zone)
    return _render("lead.html", page=shown, zone=zone, tz=tz, links=_Links(tz))


@_view
async def message_link(request: web.Request) -> web.StreamResponse:
    """The page that holds one message, scrolled to it."""
    state = request.app[STATE]
    wanted = request.match_info["message_id"]
    activity = state.activities.get(wanted) or next(
        (a for a in state.activities.values() if a["external_whatsapp_message_id"] == wanted),
        None,
    )
    if activity is None:
        return _problem(404, "There is no such message in this emulator.")
    messages = conversations.thread(state, activity["lead_id"])
    position = next(i for i, a in enumerate(messages) if a["id"] == activity["id"])
    links = _Links(request.query.get("tz") or None)
    target = links.lead(activity["lead_id"], conversations.page_of(position), activity["id"])
    raise web.HTTPFound(target)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index, name="view")
    app.router.add_get("/leads/{lead_id}", lead_page, name="view_lead")
    app.router.add_get("/messages/{message_id}", message_link, name="view_message")
