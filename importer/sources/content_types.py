"""The content type an attachment is sent with, when the archive does not state one."""

from __future__ import annotations

import mimetypes


def guess_content_type(filename: str) -> str:
    """The MIME type a file name suggests; octet-stream when it suggests none."""
    return mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"
