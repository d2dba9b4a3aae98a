"""Attachments to Close download URLs, each distinct file uploaded once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from importer.checkpoint import Checkpoint
from importer.close.api import CloseAPI
from importer.model import Attachment
from importer.single_flight import SingleFlight
from importer.sources.blobs import blob_digest, open_blob

# Close honours a download URL in activities for 24 hours after the upload; keep a margin for
# the time between taking the URL from the checkpoint and the create that uses it.
URL_LIFETIME_S = 23 * 3600


class OnAttachment(Protocol):
    """Told of each attachment sent with a message: its size, and whether it went up now."""

    def __call__(self, size: int, *, uploaded: bool) -> None: ...


class Uploads:
    """Uploads by content hash: the same bytes in many messages or runs go up once a day."""

    def __init__(
        self,
        api: CloseAPI,
        checkpoint: Checkpoint,
        on_attachment: OnAttachment,
    ):
        self._api = api
        self._checkpoint = checkpoint
        self._on_attachment = on_attachment
        self._in_flight: SingleFlight[str, str] = SingleFlight(forget=True)

    async def attachment(self, attachment: Attachment) -> dict[str, Any]:
        """The activity's `attachments` entry for one file, uploading it if need be."""
        sha, size = await asyncio.to_thread(blob_digest, attachment.blob)
        cached = self._checkpoint.state.files.get(sha)
        uploaded = False
        if cached is not None and time.time() - cached[1] < URL_LIFETIME_S:
            url = cached[0]
        else:

            def upload() -> Coroutine[Any, Any, str]:
                nonlocal uploaded
                uploaded = True  # this caller's: the others share its upload
                return self._upload(attachment, sha, size)

            url = await self._in_flight.run(sha, upload)
        self._on_attachment(size, uploaded=uploaded)
        return {
            "url": url,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
        }

    def cancel(self) -> None:
        """End the uploads still running (the run is stopping): a slot never used is harmless."""
        self._in_flight.cancel()

    async def _upload(self, attachment: Attachment, sha: str, size: int) -> str:
        url = await self._api.upload_file(
            attachment.filename,
            attachment.content_type,
            size,
            lambda: open_blob(attachment.blob),
        )
        self._checkpoint.record({"op": "file", "sha": sha, "url": url, "at": time.time()})
        return url
