"""One HTTP session for the run: authentication, timeouts, retries, rate limits.

What is retried where:
- Connection refused (nothing was sent), 429 (after the group's pause): always.
- Timeouts, cut connections, 500/502/503/504, and 2xx answers that are too large or not in
  the documented shape: a request that is safe to repeat (reads, and uploads, whose orphans
  are harmless) is retried; one that is not (a create) raises `AnswerLost`, and the caller
  looks up whether Close acted before trying again (`once.create_once`).
- Other 4xx: `Rejected`, never retried.
Retries back off exponentially with full jitter, capped; when they run out, `Unavailable`.
A wait Close asks for that is longer than `RetryPolicy.max_wait_s` is `Unavailable` at once.
"""

from __future__ import annotations

import base64
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL

from importer.close.ratelimit import RateLimits, parse_limit, retry_after
from importer.close.retry import Attempts, RetryPolicy
from importer.errors import AnswerLost, AuthRefused, Rejected, Unavailable

__all__ = ["MAX_ANSWER_BYTES", "RetryPolicy", "Transport"]

log = logging.getLogger("importer.http")

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
# Close's largest answers (a page of 100 activities) are tens of kB: a body past this is not
# an answer to read into memory.
MAX_ANSWER_BYTES = 4 * 1024 * 1024

Shape = Callable[[Any], bool]


class _BadAnswer(Exception):
    """A 2xx answer that cannot be what Close documents: too large, or the wrong shape."""


class Transport:
    """Sends requests to the Close API; the key goes to the API host and nowhere else."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        concurrency: int = 8,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        # HTTP Basic with the key as user name and an empty password, as Close documents.
        self._auth = "Basic " + base64.b64encode(f"{api_key}:".encode()).decode("ascii")
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 15.0))
        self.retry = retry or RetryPolicy()
        self.limits = RateLimits()
        self.counts: Counter[str] = Counter()  # "requests", "retries", "rate_limited"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Transport:
        connector = aiohttp.TCPConnector(limit=self._concurrency * 2, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, json_serialize=_dumps
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with Transport(...)`"
        return self._session

    def attempts(self) -> Attempts:
        """A fresh budget of transient failures for one call, counted in `counts`."""
        return Attempts(self.retry, self.counts)

    def url(self, path: str, params: Mapping[str, str] | None = None) -> URL:
        # Every value is percent-encoded ourselves: a `+` in a phone or `wamid.` id must
        # reach Close as %2B, never as a space.
        query = f"?{urlencode(params, safe='', quote_via=quote)}" if params else ""
        return URL(f"{self.base_url}/{path.lstrip('/')}{query}", encoded=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        group: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        repeatable: bool,
        shape: Shape | None = None,
    ) -> Any:
        """Send one API request and return its decoded JSON body.

        `repeatable` says whether sending it twice is harmless; when it is not, an answer
        that may have been lost raises `AnswerLost` instead of resending. `shape` says what a
        2xx body must look like; one that does not is a failure, never an empty result.
        """
        url = self.url(path, params)
        limiter = self.limits.group(group)
        attempts = self.attempts()
        rate_limited = 0
        while True:
            await limiter.acquire(group, self.retry.max_wait_s)
            self.counts["requests"] += 1
            try:
                status, headers, body = await self._send(method, url, json)
            except (aiohttp.ClientError, TimeoutError, _BadAnswer) as exc:
                limiter.release(None)
                # A refused connection sent nothing: always safe to try again.
                if not repeatable and not isinstance(exc, aiohttp.ClientConnectorError):
                    raise AnswerLost(f"{method} {path}: {_describe(exc)}") from None
                await attempts.failed(f"{method} {path}: {_describe(exc)}")
                continue
            limiter.release(parse_limit(headers))
            log.debug("%s %s -> %s", method, url.path, status)
            if status < 300:
                if shape is None or shape(body):
                    return body
                reason = f"{method} {path}: Close's answer is not in the documented shape"
                if not repeatable:
                    raise AnswerLost(reason)
                await attempts.failed(reason)
                continue
            if status == 429:
                rate_limited += 1
                self.counts["rate_limited"] += 1
                if rate_limited > self.retry.rate_limited_attempts:
                    message = f"{method} {path}: still rate limited after {rate_limited} tries"
                    raise Unavailable(message)
                limiter.pause(retry_after(headers, body))
                continue
            if status in _TRANSIENT_STATUS:
                if not repeatable:
                    raise AnswerLost(f"{method} {path}: HTTP {status}")
                await attempts.failed(f"{method} {path}: HTTP {status}")
                continue
            if status in (401, 403):
                raise AuthRefused(f"Close refused the API key (HTTP {status})")
            raise _rejected(status, body)

    async def post_elsewhere(self, url: str, data: Any) -> tuple[int, str]:
        """POST `data` to a host that is not Close's API (file storage), without credentials.

        The status and a reason; status 0 when no answer came.
        """
        self.counts["requests"] += 1
        try:
            async with self.session.post(url, data=data, allow_redirects=False) as response:
                await _read_capped(response)
                return response.status, f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, _BadAnswer) as exc:
            return 0, _describe(exc)

    async def _send(self, method: str, url: URL, json: Any) -> tuple[int, Mapping[str, str], Any]:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        data = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(json)
        # Redirects are not followed: the key must not travel to wherever one points.
        async with self.session.request(
            method, url, data=data, headers=headers, allow_redirects=False
        ) as response:
            raw = await _read_capped(response)
            body: Any = None
            if raw:
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    body = raw[:200].decode(errors="replace")
            return response.status, response.headers, body


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body, refused past MAX_ANSWER_BYTES before more is read into memory."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        raise _BadAnswer("answer too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _BadAnswer("answer too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _rejected(status: int, body: Any) -> Rejected:
    message = "request refused"
    field_errors: dict[str, str] = {}
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            message = "; ".join(str(e) for e in errors)
        elif isinstance(body.get("error"), str):
            message = body["error"]
        raw_fields = body.get("field-errors")
        if isinstance(raw_fields, dict):
            field_errors = {str(k): str(v) for k, v in raw_fields.items()}
    elif isinstance(body, str) and body:
        message = body
    return Rejected(status, message, field_errors)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _BadAnswer):
        return f"{exc} (over {MAX_ANSWER_BYTES // (1024 * 1024)} MB)"
    if isinstance(exc, TimeoutError):
        return "timed out waiting for Close"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to Close ({exc.os_error})"
    return f"connection lost ({type(exc).__name__})"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
