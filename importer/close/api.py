"""The Close endpoints the importer uses, as typed calls over one `Transport`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, BinaryIO

import aiohttp
from aiohttp.payload import IOBasePayload

from importer.close.transport import Transport
from importer.close.trust import check_download_url, check_storage_url
from importer.errors import Rejected
from importer.phones import to_e164

ACTIVITY_PATH = "activity/whatsapp_message/"
PAGE_SIZE = 100  # Close's documented default; larger pages risk a 400
MAX_SKIP = 5000  # well inside what Close's activity lists allow; deeper lists are sliced


def _is_list(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("data"), list)
        and all(isinstance(row, dict) and isinstance(row.get("id"), str) for row in body["data"])
    )


def _has_id(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("id"), str) and bool(body["id"])


def _is_lead(body: Any) -> bool:
    contacts = body.get("contacts") if _has_id(body) else None
    return isinstance(contacts, list) and bool(contacts) and _has_id(contacts[0])


def _is_upload(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    upload, download = body.get("upload"), body.get("download")
    return (
        isinstance(upload, dict)
        and isinstance(upload.get("url"), str)
        and isinstance(upload.get("fields"), dict)
        and isinstance(download, dict)
        and isinstance(download.get("url"), str)
    )


class CloseAPI:
    def __init__(self, transport: Transport):
        self.transport = transport

    async def create_whatsapp_message(
        self, payload: dict[str, Any], *, send_to_inbox: bool = False
    ) -> dict[str, Any]:
        params = {"send_to_inbox": "true"} if send_to_inbox else None
        answer: dict[str, Any] = await self.transport.request(
            "POST",
            ACTIVITY_PATH,
            group="activity",
            params=params,
            json=payload,
            repeatable=False,
            shape=_has_id,
        )
        return answer

    async def update_whatsapp_message(self, activity_id: str, changes: dict[str, Any]) -> None:
        # PUT sets fields to the values sent: sending the same twice is harmless.
        await self.transport.request(
            "PUT", f"{ACTIVITY_PATH}{activity_id}/", group="activity", json=changes, repeatable=True
        )

    async def find_whatsapp_messages(self, external_id: str) -> list[dict[str, Any]]:
        """Every activity Close holds for one WhatsApp id (more than one means duplicates)."""
        return [
            activity
            async for activity in self.list_whatsapp_messages(
                {"external_whatsapp_message_id": external_id}, fields="external_whatsapp_message_id"
            )
        ]

    async def list_whatsapp_messages(
        self, filters: dict[str, str], *, fields: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching activity, each once, however long the list.

        Close caps `_skip` at an unpublished depth (a 400 past it), so a deep list is read in
        slices: after MAX_SKIP rows the query is narrowed to `activity_at` at or before the
        oldest row seen (Close lists newest first) and paging starts again; rows met twice at
        the seam are dropped by id.
        """
        seen: set[str] = set()
        narrowed: dict[str, str] = {}
        skip = 0
        oldest: tuple[datetime, str] | None = None
        while True:
            params = {**filters, **narrowed, "_limit": str(PAGE_SIZE), "_skip": str(skip)}
            if fields:
                params["_fields"] = f"id,activity_at,{fields}"
            page = await self.transport.request(
                "GET",
                ACTIVITY_PATH,
                group="activity",
                params=params,
                repeatable=True,
                shape=_is_list,
            )
            data = page["data"]
            for activity in data:
                if activity["id"] not in seen:
                    seen.add(activity["id"])
                    yield activity
                raw = activity.get("activity_at")
                if raw:
                    at = datetime.fromisoformat(raw)
                    if oldest is None or at < oldest[0]:
                        oldest = (at, raw)
            if not page.get("has_more") or not data:
                return
            skip += len(data)
            if skip >= MAX_SKIP and oldest is not None:
                if narrowed.get("activity_at__lte") == oldest[1]:
                    # A whole slice shares one instant: skip on within it, as deep as allowed.
                    continue
                narrowed = {"activity_at__lte": oldest[1]}
                skip = 0

    async def search_contacts_by_phone(self, phone: str) -> list[dict[str, Any]]:
        """Contacts with this E.164 phone, by Close's Advanced Filtering (close-api.md)."""
        query = {
            "query": {
                "type": "and",
                "queries": [
                    {"type": "object_type", "object_type": "contact"},
                    {
                        "type": "has_related",
                        "this_object_type": "contact",
                        "related_object_type": "contact_phone",
                        "related_query": {
                            "type": "field_condition",
                            "field": {
                                "type": "regular_field",
                                "object_type": "contact_phone",
                                "field_name": "phone",
                            },
                            "condition": {"type": "text", "mode": "exact_value", "value": phone},
                        },
                    },
                ],
            },
            "_fields": {"contact": ["id", "lead_id", "name", "phones"]},
            "_limit": 10,
        }
        answer = await self.transport.request(
            "POST", "data/search/", group="search", json=query, repeatable=True, shape=_is_list
        )
        data = answer["data"]
        # Close matches as it sees fit: where it shows a contact's phones, one must be this one.
        return [
            c
            for c in data
            if isinstance(c, dict)
            and c.get("id")
            and c.get("lead_id")
            and (
                "phones" not in c
                or any(to_e164(str(p.get("phone", ""))) == phone for p in c["phones"])
            )
        ]

    async def search_contacts_by_name(self, name: str) -> list[dict[str, Any]]:
        """Contacts whose name is exactly `name` (as Close compares), with their phones."""
        condition = {"type": "text", "mode": "exact_value", "value": name}
        field = {"type": "regular_field", "object_type": "contact", "field_name": "name"}
        query = {
            "query": {
                "type": "and",
                "queries": [
                    {"type": "object_type", "object_type": "contact"},
                    {"type": "field_condition", "field": field, "condition": condition},
                ],
            },
            "_fields": {"contact": ["id", "lead_id", "name", "phones"]},
            "_limit": 10,
        }
        answer = await self.transport.request(
            "POST", "data/search/", group="search", json=query, repeatable=True
        )
        data = answer.get("data", []) if isinstance(answer, dict) else []
        return [c for c in data if isinstance(c, dict) and c.get("id") and c.get("lead_id")]

    async def create_lead(self, name: str, contact_name: str, phone: str) -> tuple[str, str]:
        """A lead with one contact carrying `phone`: (lead id, contact id)."""
        body = {
            "name": name,
            "contacts": [{"name": contact_name, "phones": [{"phone": phone, "type": "mobile"}]}],
        }
        lead = await self.transport.request(
            "POST", "lead/", group="lead", json=body, repeatable=False, shape=_is_lead
        )
        return str(lead["id"]), str(lead["contacts"][0]["id"])

    async def upload_file(
        self, filename: str, content_type: str, size: int, open_bytes: Callable[[], BinaryIO]
    ) -> str:
        """Store a file through Close's Files flow and return its `download.url`.

        The bytes go to the storage URL Close names, with no credentials: that host is not
        Close's API, and S3 refuses requests that carry an Authorization header anyway.
        """
        attempts = self.transport.attempts()
        while True:
            answer = await self.transport.request(
                "POST",
                "files/upload/",
                group="files",
                json={"filename": filename, "content_type": content_type},
                repeatable=True,  # an upload slot that is never used costs nothing
                shape=_is_upload,
            )
            upload, download_url = answer["upload"], answer["download"]["url"]
            check_storage_url(upload["url"])
            check_download_url(download_url)
            with open_bytes() as stream:
                form = _storage_form(upload["fields"], stream, filename, content_type, size)
                status, reason = await self.transport.post_elsewhere(upload["url"], form)
            if 200 <= status < 300:
                return str(download_url)
            # 403: the slot's 60-second window closed (slow disk, long queue): take a new one.
            if 400 <= status < 500 and status != 403:
                raise Rejected(status, f"storage refused the upload of {filename}")
            await attempts.failed(f"storage failed for {filename} ({reason})")


def _storage_form(
    fields: dict[str, Any], stream: BinaryIO, filename: str, content_type: str, size: int
) -> aiohttp.MultipartWriter:
    with aiohttp.MultipartWriter("form-data") as form:
        for name, value in fields.items():
            form.append(str(value)).set_content_disposition("form-data", name=name)
        # S3 ignores everything after the file part, so the file goes last.
        part = form.append_payload(_SizedStream(stream, size, content_type=content_type))
        part.set_content_disposition("form-data", name="file", filename=filename)
    return form


class _SizedStream(IOBasePayload):
    """A file-like payload of known length, so storage gets a Content-Length, not chunks."""

    def __init__(self, value: BinaryIO, size: int, **kwargs: Any):
        super().__init__(value, **kwargs)
        self._known_size = size

    @property
    def size(self) -> int:
        return self._known_size
