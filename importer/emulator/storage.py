"""The Files flow: `/files/upload/` hands out an S3-style presigned POST that this server accepts.

The storage endpoint is deliberately as picky as S3: every presigned field with its exact value,
the file as the last part, no `Authorization` header, and only within the policy's window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import quote

from aiohttp import BodyPartReader, hdrs, web

from importer.emulator import faults
from importer.emulator.appkeys import STATE
from importer.emulator.replies import bad_request, json_body
from importer.emulator.replies import json_response as reply
from importer.emulator.state import Upload

STORAGE_PATH = "/s3/upload/"
_SECRET = b"emulator-storage-secret"
_CHUNK = 64 * 1024


def _s3_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


async def files_upload(request: web.Request) -> web.Response:
    """`{"filename", "content_type"}` in; presigned storage fields and the download url out."""
    if request.query:
        raise bad_request(f"Unknown query parameter: {', '.join(sorted(request.query))}.")
    body = await json_body(request)
    if set(body) != {"filename", "content_type"} or not all(
        isinstance(v, str) and v for v in body.values()
    ):
        raise bad_request('The body must be exactly {"filename": str, "content_type": str}.')
    state = request.app[STATE]
    token = state.new_id("")
    issued = datetime.now(UTC)
    window = state.config.upload_window_s
    key = f"uploads/{state.organization_id}/{token}/{body['filename']}"
    policy = {
        "expiration": (issued + timedelta(seconds=window)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [{"bucket": "close-emulator"}, {"key": key}],
    }
    encoded_policy = base64.b64encode(json.dumps(policy).encode()).decode()
    fields = {
        "key": key,
        "Content-Type": body["content_type"],
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(body['filename'])}",
        "success_action_status": "201",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": f"EMULATOR/{issued:%Y%m%d}/us-east-1/s3/aws4_request",
        "x-amz-date": f"{issued:%Y%m%dT%H%M%SZ}",
        "policy": encoded_policy,
        "x-amz-signature": hmac.new(_SECRET, encoded_policy.encode(), hashlib.sha256).hexdigest(),
    }
    upload = Upload(token, body["filename"], body["content_type"], fields, time.monotonic())
    state.uploads[token] = upload
    state.counters["upload_slots"] += 1
    storage_url = f"{request.scheme}://{request.host}{STORAGE_PATH}{token}"
    return reply(
        {"upload": {"url": storage_url, "fields": fields}, "download": {"url": upload.download_url}}
    )


async def storage_post(request: web.Request) -> web.Response:
    """The presigned POST: 201 and the bytes stored, or an S3-style XML error."""
    state = request.app[STATE]
    state.count_request(request.method, "storage")
    if hdrs.AUTHORIZATION in request.headers:
        # An importer that sends its Close key here leaks it to another host: count it loudly.
        state.counters["storage_authorization_headers"] += 1
        return _s3_error(400, "InvalidArgument", "Unsupported Authorization Type")
    upload = state.uploads.get(request.match_info["token"])
    if upload is None:
        return _s3_error(403, "AccessDenied", "Invalid according to Policy: no such upload.")
    if time.monotonic() - upload.issued_at > state.config.upload_window_s:
        return _s3_error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    if request.content_type != "multipart/form-data":
        return _s3_error(
            412,
            "PreconditionFailed",
            "Bucket POST must be of the enclosure-type multipart/form-data.",
        )
    received: dict[str, str] = {}
    data: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            return _s3_error(
                400, "MalformedPOSTRequest", "The body is not well-formed multipart/form-data."
            )
        if data is not None:
            return _s3_error(400, "InvalidArgument", "The file must be the last field in the form.")
        if part.name == "file":
            data = await _read_file(part, state.config.max_file_bytes)
            if data is None:
                return _s3_error(
                    400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
                )
        elif part.name in received:
            return _s3_error(400, "InvalidArgument", f"Field {part.name} is given more than once.")
        else:
            received[part.name] = (await part.read()).decode("utf-8", "replace")
    if "key" not in received:
        return _s3_error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
    if data is None:
        return _s3_error(
            400, "InvalidArgument", "POST requires exactly one file upload per request."
        )
    if received != upload.fields:
        missing = sorted(set(upload.fields) - set(received))
        wrong = sorted(
            k for k in upload.fields if k in received and received[k] != upload.fields[k]
        )
        extra = sorted(set(received) - set(upload.fields))
        detail = f"missing {missing}, mismatched {wrong}, extra {extra}"
        return _s3_error(403, "AccessDenied", f"Invalid according to Policy: {detail}.")
    upload.data = data
    state.counters["uploads"] += 1
    if faults.should_drop(state):
        faults.cut(request, state)
    location, key = escape(request.url.human_repr()), escape(upload.fields["key"])
    body = f"<PostResponse><Location>{location}</Location><Key>{key}</Key></PostResponse>"
    return web.Response(status=201, text=body, content_type="application/xml")


async def _read_file(part: BodyPartReader, limit: int) -> bytes | None:
    """The file part's bytes, read in chunks; None when they exceed `limit`."""
    buffer = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        buffer.extend(chunk)
        if len(buffer) > limit:
            return None
    return bytes(buffer)


async def file_download(request: web.Request) -> web.Response:
    """`/go/file/<token>`: the stand-in for a download url, for the conversation view."""
    state = request.app[STATE]
    state.count_request(request.method, "file_download")
    upload = state.uploads.get(request.match_info["token"])
    if upload is None or upload.data is None:
        raise web.HTTPNotFound()
    disposition = f"inline; filename*=UTF-8''{quote(upload.filename)}"
    headers = {hdrs.CONTENT_TYPE: upload.content_type, hdrs.CONTENT_DISPOSITION: disposition}
    return web.Response(body=upload.data, headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/files/upload/", files_upload, name="files_upload")
    app.router.add_post(STORAGE_PATH + "{token}", storage_post, name="storage")
    app.router.add_get("/go/file/{token}", file_download, name="file_download")
