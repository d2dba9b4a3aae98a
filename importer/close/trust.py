"""Where the importer agrees to send the key, file bytes and links: checked before sending."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from importer.errors import Untrusted, UsageError

# Close's download URLs, the only links an activity's attachments may carry (close-api.md).
# The emulator hands out the same prefix, so no exception is needed for it.
DOWNLOAD_PREFIX = "https://app.close.com/go/file/"


def check_base_url(url: str) -> None:
    """The key travels in every request: never in clear text beyond this machine, never in
    the URL itself (it would be echoed in logs and errors)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise UsageError("--base-url is not a URL") from None
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            "--base-url must not carry credentials (user:password@); pass the key with "
            "CLOSE_API_KEY"
        )
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"--base-url must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not is_loopback(host):
        raise UsageError(
            f"--base-url {url} is plain http to another host: the API key would travel in "
            "clear text; use https"
        )


def check_storage_url(url: str) -> None:
    """File bytes go only over https (a local emulator's plain http excepted)."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and is_loopback(parts.hostname or "")
    if not (parts.scheme == "https" and parts.hostname) and not local:
        raise Untrusted(f"Close named a storage URL that is not https ({_scheme_host(url)})")


def check_download_url(url: str) -> None:
    if not url.startswith(DOWNLOAD_PREFIX):
        raise Untrusted(
            f"Close named a download URL outside {DOWNLOAD_PREFIX} ({_scheme_host(url)})"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scheme_host(url: str) -> str:
    """Enough of a URL to name it, without a path or query that may hold a signature."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"
