"""WhatsApp message activities: Close's checks of a create or update, and the object it answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from importer.emulator import markdown, phones, timestamps
from importer.emulator.state import DOWNLOAD_PREFIX, EmulatorState

REQUIRED = (
    "activity_at",
    "contact_id",
    "direction",
    "external_whatsapp_message_id",
    "lead_id",
    "local_phone",
    "message_markdown",
    "remote_phone",
)
OPTIONAL = ("attachments", "integration_link", "response_to_id", "user_id")
# PUT may change everything but these two; Close refuses them instead of ignoring them.
IMMUTABLE = ("external_whatsapp_message_id", "lead_id")
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_LINK_LENGTH = 2083
_ATTACHMENT_KEYS = {"url", "filename", "content_type"}

FieldErrors = dict[str, str]


def validate(
    state: EmulatorState, body: dict[str, Any], existing: dict[str, Any] | None
) -> tuple[dict[str, Any], FieldErrors]:
    """Check a create (existing is None) or an update body; return cleaned values and errors."""
    errors: FieldErrors = {}
    clean: dict[str, Any] = {}
    for name in body:
        if name not in REQUIRED and name not in OPTIONAL:
            errors[name] = "Unknown field."
        elif existing is not None and name in IMMUTABLE:
            errors[name] = "This field cannot be changed."
    if existing is None:
        for name in REQUIRED:
            if name not in body:
                errors[name] = "Missing data for required field."
    checks = {
        "activity_at": _activity_at,
        "direction": _direction,
        "external_whatsapp_message_id": _external_id,
        "local_phone": _phone,
        "remote_phone": _phone,
        "message_markdown": _markdown,
        "integration_link": _link,
        "user_id": _user_id,
    }
    for name, check in checks.items():
        if name in body and name not in errors:
            value, error = check(body[name])
            if error:
                errors[name] = error
            else:
                clean[name] = value
    if "attachments" in body and "attachments" not in errors:
        attachments, error = _attachments(state, body["attachments"], existing)
        if error:
            errors["attachments"] = error
        else:
            clean["attachments"] = attachments
    _check_lead_and_contact(state, body, existing, errors, clean)
    if "response_to_id" in body and "response_to_id" not in errors:
        parent = body["response_to_id"]
        if parent is not None and (
            not isinstance(parent, str)
            or parent not in state.activities
            or (existing is not None and parent == existing["id"])
        ):
            errors["response_to_id"] = "Must be the id of an existing WhatsApp message activity."
        else:
            clean["response_to_id"] = parent
    return clean, errors


def _check_lead_and_contact(
    state: EmulatorState,
    body: dict[str, Any],
    existing: dict[str, Any] | None,
    errors: FieldErrors,
    clean: dict[str, Any],
) -> None:
    lead_id = existing["lead_id"] if existing is not None else body.get("lead_id")
    if existing is None and "lead_id" in body and "lead_id" not in errors:
        if not isinstance(lead_id, str) or lead_id not in state.leads:
            errors["lead_id"] = "Lead not found."
        else:
            clean["lead_id"] = lead_id
    if "contact_id" in body and "contact_id" not in errors:
        contact = (
            state.contacts.get(body["contact_id"]) if isinstance(body["contact_id"], str) else None
        )
        if contact is None:
            errors["contact_id"] = "Contact not found."
        elif "lead_id" not in errors and contact.lead_id != lead_id:
            errors["contact_id"] = "Contact does not belong to this lead."
        else:
            clean["contact_id"] = contact.id


def _activity_at(value: object) -> tuple[Any, str]:
    moment = timestamps.parse(value)
    if moment is None:
        return None, "Not a valid datetime: use ISO 8601 with an offset, e.g. 2024-05-01T10:00:00Z."
    return timestamps.render(moment), ""


def _direction(value: object) -> tuple[Any, str]:
    if value not in ("incoming", "outgoing"):
        return None, 'Must be one of: "incoming", "outgoing".'
    return value, ""


def _external_id(value: object) -> tuple[Any, str]:
    if not isinstance(value, str) or not value:
        return None, "Must be a non-empty string."
    return value, ""


def _phone(value: object) -> tuple[Any, str]:
    e164 = phones.to_e164(value) if isinstance(value, str) else None
    if e164 is None:
        return None, "Invalid phone number."
    return e164, ""


def _markdown(value: object) -> tuple[Any, str]:
    if not isinstance(value, str):
        return None, "Not a valid string."
    return value, ""


def _link(value: object) -> tuple[Any, str]:
    if value is None:
        return None, ""
    if not isinstance(value, str) or len(value) > MAX_LINK_LENGTH:
        return None, f"Must be a URL of at most {MAX_LINK_LENGTH} characters, or null."
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        return None, "Not a valid URL."
    return value, ""


def _user_id(value: object) -> tuple[Any, str]:
    if value is not None and not isinstance(value, str):
        return None, "Not a valid string."
    return value, ""


def _attachments(
    state: EmulatorState, value: object, existing: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], str]:
    if not isinstance(value, list):
        return [], "Not a valid list."
    kept = {a["url"]: a["size"] for a in existing["attachments"]} if existing else {}
    result: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != _ATTACHMENT_KEYS:
            return [], f"Item {index} must have exactly url, filename and content_type."
        if not all(isinstance(item[k], str) and item[k] for k in _ATTACHMENT_KEYS):
            return [], f"Item {index}: url, filename and content_type must be non-empty strings."
        url = item["url"]
        if not url.startswith(DOWNLOAD_PREFIX):
            return [], f"Item {index}: the url must start with {DOWNLOAD_PREFIX}."
        upload = state.upload_for(url)
        # An update may keep an attachment the activity already has, however old its upload.
        size = len(upload.data) if upload is not None and upload.data is not None else kept.get(url)
        if size is None:
            return [], f"Item {index}: no completed, unexpired upload for this url."
        result.append(
            {
                "url": url,
                "filename": item["filename"],
                "content_type": item["content_type"],
                "size": size,
                "thumbnail_url": None,
            }
        )
    if sum(a["size"] for a in result) > MAX_ATTACHMENT_BYTES:
        return [], "The attachments of one message must not exceed 25 MB in total."
    return result, ""


def create(state: EmulatorState, clean: dict[str, Any], user_id: str) -> dict[str, Any]:
    """A new activity from validated values, as Close answers and stores it."""
    now = timestamps.render(timestamps.now())
    owner = clean.get("user_id", user_id)
    activity: dict[str, Any] = {
        "_type": "WhatsAppMessage",
        "id": state.new_id("acti_"),
        "organization_id": state.organization_id,
        "lead_id": clean["lead_id"],
        "contact_id": clean["contact_id"],
        "direction": clean["direction"],
        "external_whatsapp_message_id": clean["external_whatsapp_message_id"],
        "activity_at": clean["activity_at"],
        "attachments": clean.get("attachments", []),
        "integration_link": clean.get("integration_link"),
        "integration_name": None,
        "response_to_id": clean.get("response_to_id"),
        "sequence_id": None,
        "sequence_name": None,
        "sequence_subscription_id": None,
        "source": "api",
        "date_created": now,
        "created_by": user_id,
        "created_by_name": state.users.get(user_id),
    }
    apply(state, activity, {**clean, "user_id": owner}, user_id, now)
    state.activities[activity["id"]] = activity
    return activity


def apply(
    state: EmulatorState,
    activity: dict[str, Any],
    clean: dict[str, Any],
    user_id: str,
    now: str | None = None,
) -> None:
    """Write validated values into an activity and refresh what Close derives from them."""
    activity.update(clean)
    for side in ("local_phone", "remote_phone"):
        activity[f"{side}_formatted"] = phones.formatted(activity[side])
    activity["message_html"] = markdown.to_html(activity["message_markdown"])
    activity["text"] = markdown.to_text(activity["message_markdown"])
    owner = activity.get("user_id")
    activity["users"] = [owner] if owner else []
    activity["user_name"] = state.users.get(owner) if owner else None
    activity["date_updated"] = now or timestamps.render(timestamps.now())
    activity["updated_by"] = user_id
    activity["updated_by_name"] = state.users.get(user_id)
