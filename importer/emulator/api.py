"""The `/api/v1/` routes: WhatsApp message activities, the phone search, leads, contacts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from importer.emulator import activities, listing, search
from importer.emulator.appkeys import STATE
from importer.emulator.gate import current_user, is_read
from importer.emulator.replies import Refusal, bad_request, error, field_errors, json_body
from importer.emulator.replies import json_response as reply
from importer.emulator.state import PHONE_TYPES, Lead, Phone, contact_json, to_e164_or_none

ACTIVITIES = "/api/v1/activity/whatsapp_message/"


def _no_query(request: web.Request, allowed: frozenset[str] = frozenset()) -> None:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise bad_request(f"Unknown query parameter: {', '.join(unknown)}.")


def _activity(request: web.Request) -> dict[str, Any]:
    activity = request.app[STATE].activities.get(request.match_info["id"])
    if activity is None:
        raise Refusal(error(404, "Object not found."))
    return activity


async def activities_collection(request: web.Request) -> web.Response:
    """POST creates; GET (or POST with `x-http-method-override: GET`) lists."""
    if request.method == "GET":
        return _list(request, [(k, v) for k, v in request.query.items()])
    if is_read(request):
        _no_query(request)
        body = await json_body(request)
        params = body.get("_params")
        if set(body) != {"_params"} or not isinstance(params, dict):
            raise bad_request('A GET sent as POST carries exactly {"_params": {...}}.')
        return _list(request, [(k, _param(k, v)) for k, v in params.items()])
    return await _create(request)


def _param(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad_request(f"_params.{name} must be a string.")
    return str(value)


def _list(request: web.Request, pairs: list[tuple[str, str]]) -> web.Response:
    try:
        query = listing.parse(pairs)
    except listing.QueryError as exc:
        raise bad_request(str(exc)) from None
    return reply(listing.run(request.app[STATE], query))


async def _create(request: web.Request) -> web.Response:
    _no_query(request, frozenset({"send_to_inbox"}))
    if request.query.get("send_to_inbox", "false") not in ("true", "false"):
        raise bad_request("send_to_inbox must be true or false.")
    if len(request.query.getall("send_to_inbox", [])) > 1:
        raise bad_request("send_to_inbox is given more than once.")
    state = request.app[STATE]
    body = await json_body(request)
    clean, errors = activities.validate(state, body, None)
    if errors:
        raise field_errors(errors)
    activity = activities.create(state, clean, current_user(request))
    state.counters["creates"] += 1
    if request.query.get("send_to_inbox") == "true" and activity["direction"] == "incoming":
        state.counters["inbox_notifications"] += 1
    return reply(activity)


async def activity_update(request: web.Request) -> web.Response:
    _no_query(request)
    state = request.app[STATE]
    activity = _activity(request)
    body = await json_body(request)
    clean, errors = activities.validate(state, body, activity)
    if errors:
        raise field_errors(errors)
    activities.apply(state, activity, clean, current_user(request))
    state.counters["updates"] += 1
    return reply(activity)


async def activity_delete(request: web.Request) -> web.Response:
    _no_query(request)
    activity = _activity(request)
    state = request.app[STATE]
    del state.activities[activity["id"]]
    state.counters["deletes"] += 1
    return reply({})


async def data_search(request: web.Request) -> web.Response:
    _no_query(request)
    body = await json_body(request)
    try:
        return reply(search.run(request.app[STATE], body))
    except search.SearchError as exc:
        raise bad_request(str(exc)) from None


def lead_json(request: web.Request, lead: Lead) -> dict[str, Any]:
    state = request.app[STATE]
    return {
        "id": lead.id,
        "name": lead.name,
        "display_name": lead.name,
        "organization_id": state.organization_id,
        "contacts": [contact_json(state.contacts[c]) for c in lead.contact_ids],
        "date_created": lead.date_created,
        "date_updated": lead.date_created,
    }


def _strings(raw: dict[str, Any], allowed: set[str], where: str) -> dict[str, str]:
    errors = {f"{where}{k}": "Unknown field." for k in raw if k not in allowed}
    errors.update(
        {
            f"{where}{k}": "Not a valid string."
            for k in allowed & set(raw)
            if k not in ("contacts", "phones") and not isinstance(raw[k], str)
        }
    )
    return errors


async def lead_create(request: web.Request) -> web.Response:
    """`{"name", "contacts": [{"name", "phones": [{"phone", "type"}]}]}`, checked field by field."""
    _no_query(request)
    state = request.app[STATE]
    body = await json_body(request)
    errors = _strings(body, {"name", "description", "contacts"}, "")
    contacts: list[tuple[str, list[Phone]]] = []
    raw_contacts = body.get("contacts", [])
    if not isinstance(raw_contacts, list):
        errors["contacts"] = "Not a valid list."
        raw_contacts = []
    for i, raw in enumerate(raw_contacts):
        if not isinstance(raw, dict):
            errors[f"contacts.{i}"] = "Not a valid object."
            continue
        errors.update(_strings(raw, {"name", "title", "phones"}, f"contacts.{i}."))
        found: list[Phone] = []
        raw_phones = raw.get("phones", [])
        for j, phone in enumerate(raw_phones if isinstance(raw_phones, list) else [None]):
            where = f"contacts.{i}.phones.{j}"
            if not isinstance(phone, dict) or set(phone) - {"phone", "type"}:
                errors[where] = 'Must be {"phone": ..., "type": ...}.'
                continue
            e164 = to_e164_or_none(phone.get("phone"))
            kind = phone.get("type", "office")
            if e164 is None:
                errors[f"{where}.phone"] = "Invalid phone number."
            elif kind not in PHONE_TYPES:
                errors[f"{where}.type"] = f"Must be one of: {', '.join(sorted(PHONE_TYPES))}."
            else:
                found.append(Phone(e164, kind))
        contacts.append((str(raw.get("name", "")), found))
    if errors:
        raise field_errors(errors)
    lead = state.add_lead(str(body.get("name", "")), contacts)
    state.counters["leads_created"] += 1
    return reply(lead_json(request, lead))


def _object(request: web.Request, found: dict[str, Any] | None) -> web.Response:
    """One object, or only the fields `_fields` names; 404 when there is none."""
    _no_query(request, frozenset({"_fields"}))
    if found is None:
        raise Refusal(error(404, "Object not found."))
    fields = request.query.get("_fields")
    if fields is not None:
        return reply({k: found[k] for k in fields.split(",") if k in found})
    return reply(found)


async def activity_get(request: web.Request) -> web.Response:
    return _object(request, request.app[STATE].activities.get(request.match_info["id"]))


async def lead_get(request: web.Request) -> web.Response:
    lead = request.app[STATE].leads.get(request.match_info["id"])
    return _object(request, lead_json(request, lead) if lead is not None else None)


async def contact_get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    contact = state.contacts.get(request.match_info["id"])
    found = contact_json(contact) if contact is not None else None
    return _object(request, found and {**found, "organization_id": state.organization_id})


def add_routes(app: web.Application) -> None:
    """Route names double as the counter names: `state.requests("POST", "whatsapp_messages")`."""
    router = app.router
    collection = router.add_resource(ACTIVITIES, name="whatsapp_messages")
    collection.add_route("GET", activities_collection)
    collection.add_route("POST", activities_collection)
    item = router.add_resource(ACTIVITIES + "{id}/", name="whatsapp_message")
    item.add_route("GET", activity_get)
    item.add_route("PUT", activity_update)
    item.add_route("DELETE", activity_delete)
    router.add_resource("/api/v1/data/search/", name="data_search").add_route("POST", data_search)
    router.add_resource("/api/v1/lead/", name="leads").add_route("POST", lead_create)
    router.add_resource("/api/v1/lead/{id}/", name="lead").add_route("GET", lead_get)
    router.add_resource("/api/v1/contact/{id}/", name="contact").add_route("GET", contact_get)
