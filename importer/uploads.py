"""Attachments to Close download URLs, each distinct file uploaded once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from importer.checkpoint import Checkpoint
from importer.close.api import CloseAPI
from importer.model import Attachment
from importer.single_flight import SingleFlight
from importer.sources.blobs import blob_digest, open_blob

# Close honours a download URL in activities for 24 hours after the upload; keep a margin for
# the time between taking the URL from the checkpoint and the create that uses it.
URL_LIFETIME_S = 23 * 3600


class Uploads:
    """Uploads by content hash: the same bytes in many messages or runs go up once a day."""

    def __init__(self, api: CloseAPI, checkpoint: Checkpoint, on_upload: Callable[[], None]):
        self._api = api
        self._checkpoint = checkpoint
        self._on_upload = on_upload
        self._in_flight: SingleFlight[str, str] = SingleFlight(forget=True)

    async def attachment(self, attachment: Attachment) -> dict[str, Any]:
        """The activity's `attachments` entry for one file, uploading it if need be."""
        sha, size = await asyncio.to_thread(blob_digest, attachment.blob)
        cached = self._checkpoint.state.files.get(sha)
        if cached is not None and time.time() - cached[1] < URL_LIFETIME_S:
            url = cached[0]
        else:
            url = await self._in_flight.run(sha, lambda: self._upload(attachment, sha, size))
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
        self._on_upload()
        self._checkpoint.record({"op": "file", "sha": sha, "url": url, "at": time.time()})
        return url
