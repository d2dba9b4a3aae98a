"""The read-only conversation view at `/`: each lead's WhatsApp messages, oldest first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from importer.emulator.appkeys import STATE
from importer.emulator.state import DOWNLOAD_PREFIX

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)


def _message(activity: dict[str, Any], parents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    parent = parents.get(activity["response_to_id"] or "")
    return {
        "id": activity["id"],
        "direction": activity["direction"],
        "when": activity["activity_at"],
        "external_id": activity["external_whatsapp_message_id"],
        # message_html was built by escaping the markdown first, so it is safe to insert as is.
        "html": Markup(activity["message_html"]),
        "attachments": [
            {**a, "href": "/go/file/" + a["url"].removeprefix(DOWNLOAD_PREFIX)}
            for a in activity["attachments"]
        ],
        "reply_to": parent and {"id": parent["id"], "text": parent["text"][:120]},
        "reply_missing": activity["response_to_id"] is not None and parent is None,
    }


async def conversation_view(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.count_request(request.method, "view")
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for activity in sorted(
        state.activities.values(), key=lambda a: (datetime.fromisoformat(a["activity_at"]), a["id"])
    ):
        by_lead.setdefault(activity["lead_id"], []).append(activity)
    leads = []
    for lead in state.leads.values():
        contacts = [state.contacts[c] for c in lead.contact_ids]
        messages = by_lead.get(lead.id, [])
        leads.append(
            {
                "id": lead.id,
                "name": lead.name,
                "contacts": [
                    {"name": c.name, "phones": ", ".join(p.phone for p in c.phones)}
                    for c in contacts
                ],
                "messages": [_message(m, state.activities) for m in messages],
            }
        )
    html = _ENVIRONMENT.get_template("conversation.html").render(
        leads=leads, total=len(state.activities)
    )
    return web.Response(text=html, content_type="text/html")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", conversation_view, name="view")
