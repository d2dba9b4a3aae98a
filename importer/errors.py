"""The importer's own failures, in one hierarchy.

Bad input is not here: an unreadable line or a refused message is a `model.Problem`, collected
and reported while the rest imports. These exceptions are for what stops a run, a request or
one message (`MessageError`: the pipeline turns it into that message's problem). `cli.main`
catches `ImporterError` once and maps it to an exit status: nothing of this tree ends in a
traceback::

    ImporterError
    ├── UsageError            the user asked for something impossible: one line, exit 2
    │   └── CheckpointLocked  another live run holds the checkpoint
    ├── CheckpointError       the checkpoint file cannot be read or written
    ├── ScratchError          a scratch file (id index, waiting replies) cannot be written
    ├── MessageError          one message cannot go to Close; the run goes on without it
    │   ├── Unresolved        its phone has no single lead and contact
    │   └── BlobError         an attachment's bytes cannot be read as declared
    └── CloseError            a request to Close did not succeed
        ├── Rejected          Close refused it (4xx other than 429); not retried
        ├── AuthRefused       Close refused the API key (401/403): nothing can succeed
        ├── Unavailable       retries ran out (outage, repeated 5xx or 429, a far wait)
        ├── AnswerLost        sent, but no answer came: Close may or may not have acted
        └── Untrusted         Close's answer points where nothing may be sent or linked
"""

from __future__ import annotations


class ImporterError(Exception):
    """Base of every error the importer raises on purpose."""


class UsageError(ImporterError):
    """A user mistake detected before anything was sent; the CLI prints it and exits 2."""


class CheckpointLocked(UsageError):
    """Another running import holds the checkpoint's lock."""


class CheckpointError(ImporterError):
    """The checkpoint cannot be read or written."""


class ScratchError(ImporterError):
    """A scratch file of the run cannot be made or written: a full disk, usually. Nothing in it
    was a promise, so the run stops as it would on a signal and a rerun resumes."""


class MessageError(ImporterError):
    """One message cannot be imported as it is; the pipeline reports it and goes on."""


class Unresolved(MessageError):
    """The phone has no single lead and contact; the reason says what the user can do."""


class BlobError(MessageError, ValueError):
    """An attachment's bytes cannot be read as declared; a problem of its message."""


class CloseError(ImporterError):
    """A request to Close did not succeed."""


class Rejected(CloseError):
    """Close answered 4xx: the request itself is wrong and resending it cannot help."""

    def __init__(self, status: int, message: str, field_errors: dict[str, str] | None = None):
        self.status = status
        self.field_errors = dict(field_errors or {})
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(self.field_errors.items()))
        super().__init__(f"HTTP {status}: {message}" + (f" ({detail})" if detail else ""))


class AuthRefused(CloseError):
    """Close refused the API key; every further request would be refused too."""


class Unavailable(CloseError):
    """Close could not be reached or kept failing until the retry budget ran out."""


class AnswerLost(CloseError):
    """The request went out but its answer did not come back; it may have taken effect."""


class Untrusted(CloseError):
    """Close named a storage or download URL the importer will not send bytes to or link."""
