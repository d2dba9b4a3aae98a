"""Close-shaped answers and request bodies: JSON in, JSON out, errors as Close writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web


class Refusal(Exception):
    """Raised by a handler to answer with `response` (an error) instead of going on."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """A request-level error: `{"errors": [message], "field-errors": {}}`."""
    return json_response({"errors": [message], "field-errors": {}}, status, headers)


def field_errors(errors: Mapping[str, str]) -> Refusal:
    """The 400 Close answers to a body that fails validation."""
    return Refusal(json_response({"errors": [], "field-errors": dict(errors)}, 400))


def bad_request(message: str) -> Refusal:
    return Refusal(error(400, message))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 415 without `Content-Type: application/json`, 400 if malformed."""
    if request.content_type != "application/json":
        raise Refusal(error(415, "Content-Type must be application/json."))
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.")
    return body
