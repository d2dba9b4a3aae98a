"""Send the plan: each message created once, with its attachments and its reply link.

Messages arrive as the archive is read and start through `schedule.Scheduler` (a bounded pool,
a reply after its parent, memory bounded). Each message is journaled as an intent before its
create leaves and as done once Close has answered; a create whose answer was lost is looked up,
never resent blindly. Until Close has answered for it, an intent stays pending (no `fail` is
journaled for it), so the next run looks it up before anything is sent again.

A stop (a signal, Close unavailable, the key refused, the journal failing) cancels every worker
and shared call in flight: what was sent is pending in the journal, what was not is left for
the next run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importer.checkpoint import Checkpoint, CheckpointState
from importer.close.api import CloseAPI
from importer.close.once import create_once
from importer.contacts import ContactResolver
from importer.errors import (
    AuthRefused,
    BlobError,
    CheckpointError,
    Rejected,
    Unavailable,
    Unresolved,
    Untrusted,
)
from importer.links import Links, waiting
from importer.model import Message, Problem
from importer.plan import Planned
from importer.report import Report
from importer.schedule import Scheduler
from importer.single_flight import SingleFlight
from importer.uploads import Uploads


@dataclass(frozen=True, slots=True)
class SendOptions:
    concurrency: int = 8
    send_to_inbox: bool = False
    user_id: str | None = None
    # Update (PUT) activities whose text or attachments changed since they were imported.
    sync_edits: bool = False
    # List each lead's activities in Close before importing its chat (design.md, rule 7);
    # None: only when the checkpoint is new, the one case where it cannot know what Close holds.
    reconcile: bool | None = None


log = logging.getLogger("importer.pipeline")


class _Stop(Exception):
    """Raised inside a worker when the whole run must end (key refused, Close unavailable)."""


class _CreateRefused(Exception):
    """Close answered the create itself with a 4xx: the message is settled as failed."""

    def __init__(self, refusal: Rejected):
        super().__init__(str(refusal))


class Importer:
    """Imports planned messages into Close through `api`, journaling into `checkpoint`."""

    def __init__(
        self,
        api: CloseAPI,
        checkpoint: Checkpoint,
        *,
        contacts: ContactResolver,
        options: SendOptions,
        report: Report,
    ):
        self._api = api
        self._checkpoint = checkpoint
        self._contacts = contacts
        self._options = options
        self._report = report
        self._uploads = Uploads(api, checkpoint, report.attachment)
        self._links = Links(api, checkpoint, report, options.concurrency)
        self._reconciled: SingleFlight[str, None] = SingleFlight()
        self._scheduler: Scheduler | None = None
        self.stopping = asyncio.Event()

    async def run(self, batches: AsyncIterable[list[Planned]], spill_dir: Path) -> None:
        """Send what `batches` streams in: what the checkpoint holds is an edit to sync (the
        plan passes only changed ones, see `runner.needed`), the rest is new."""
        self._scheduler = Scheduler(
            self._send,
            concurrency=self._options.concurrency,
            is_done=self._checkpoint.state.done.__contains__,
            spill_dir=spill_dir,
        )
        try:
            await self._heal(self._links.heal_known())  # parents a run before this one brought
            if self.stopping.is_set():
                self._scheduler.stop()
            self._report.not_attempted += await self._scheduler.run(batches)
            if not self.stopping.is_set():
                await self._heal(self._links.heal_known())  # parents reconciling found
        finally:
            self._links.count_waiting()

    def amend(self, later: Planned) -> bool:
        """Let a later copy lend its reply link or name to a message not started yet."""
        return self._scheduler is not None and self._scheduler.amend(later)

    async def _send(self, p: Planned) -> None:
        if p.external_id not in self._checkpoint.state.done:
            await self._import(p)
        elif self._options.sync_edits:
            await self._update(p)
        else:  # reconciling found it in Close while it waited
            self._report.count("skipped", p.remote_phone)

    def _halt(self, exc: AuthRefused | Unavailable | Untrusted) -> None:
        """End the run for a failure no other message can escape."""
        if isinstance(exc, AuthRefused):
            self._report.key_refused = True
            self.stop(f"{exc}: check --api-key")
        elif isinstance(exc, Untrusted):
            self.stop(f"{exc}: nothing more is sent; check --base-url")
        else:
            self.stop(
                f"Close is unavailable ({exc}); the checkpoint is consistent: rerun to resume"
            )

    def stop(self, reason: str, *, interrupted: bool = False) -> None:
        """End the run: nothing new starts, and what is in flight is cancelled."""
        if self.stopping.is_set():
            return
        self._report.stopped_because = reason
        self._report.interrupted = interrupted
        self.stopping.set()
        if self._scheduler is not None:
            self._scheduler.stop(cancel=True)
        self._contacts.cancel()
        self._uploads.cancel()
        self._reconciled.cancel()

    async def _import(self, p: Planned) -> None:
        try:
            await self._import_one(p)
        except _Stop:
            pass
        except CheckpointError as exc:
            self._report.not_attempted += 1
            self.stop(f"{exc}: nothing more is sent until it can be written")
        except Exception as exc:  # a bug, or an answer Close never gives: stop, don't guess
            log.debug("unexpected failure importing %s", p.external_id, exc_info=True)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self._report.fail(_problem(p, reason), p.remote_phone)
            self.stop("stopped by an internal error; the checkpoint is consistent: rerun")

    async def _import_one(self, p: Planned) -> None:
        message = p.message
        try:
            lead_id, contact_id = await self._contacts.resolve(
                p.remote_phone, message.lead_id, message.contact_id
            )
            if self._options.reconcile:
                await self._reconcile(lead_id)
                if p.external_id in self._checkpoint.state.done:
                    self._report.count("skipped", p.remote_phone)
                    return
            attachments = [await self._uploads.attachment(a) for a in message.attachments]
            response_to = await self._parent_id(p)
            payload = self._payload(p, lead_id, contact_id, attachments, response_to)
            parent = message.reply_to if response_to is None else None
            activity_id = await self._create(p, payload, waits_for=parent)
        except Unresolved as exc:
            self._fail(p, str(exc))
            return
        except BlobError as exc:
            self._report.reject(_problem(p, str(exc)), p.remote_phone)
            return
        except _CreateRefused as exc:
            self._fail(p, f"Close refused it: {exc}", rejected=True, answered=True)
            return
        except Rejected as exc:
            self._fail(p, f"Close refused it: {exc}", rejected=True)
            return
        except (AuthRefused, Untrusted) as exc:
            self._report.not_attempted += 1
            self._halt(exc)
            raise _Stop from None
        except Unavailable as exc:
            self._fail(p, f"not imported: {exc}")
            self._halt(exc)
            raise _Stop from None
        self._report.count("skipped" if activity_id is None else "created", p.remote_phone)
        await self._heal(self._links.heal(p.external_id))

    async def _heal(self, healing: Coroutine[Any, Any, None]) -> None:
        """Set waiting reply links; a failure no message can escape ends the run."""
        try:
            await healing
        except (AuthRefused, Unavailable, Untrusted) as exc:
            self._halt(exc)

    async def _update(self, p: Planned) -> None:
        """PUT the new text and attachments of a message that changed since its import."""
        try:
            attachments = [await self._uploads.attachment(a) for a in p.message.attachments]
            close_id = self._checkpoint.state.done[p.external_id]
            await self._api.update_whatsapp_message(
                close_id, {"message_markdown": p.message.text, "attachments": attachments}
            )
        except (Rejected, BlobError, Unavailable) as exc:
            self._report.note(_problem(p, f"edit not synced: {exc}"))
            if isinstance(exc, Unavailable):
                self._halt(exc)
            return
        except (AuthRefused, Untrusted) as exc:
            self._halt(exc)
            return
        self._checkpoint.record(
            {"op": "done", "id": p.external_id, "close": close_id, "sum": fingerprint(p.message)}
        )
        self._report.count("updated", p.remote_phone)

    async def _reconcile(self, lead_id: str) -> None:
        """Learn once per lead which of this run's messages Close already holds."""
        await self._reconciled.run(lead_id, lambda: self._list_lead(lead_id))

    async def _list_lead(self, lead_id: str) -> None:
        done = self._checkpoint.state.done
        found = []
        async for activity in self._api.list_whatsapp_messages(
            {"lead_id": lead_id}, fields="external_whatsapp_message_id"
        ):
            wa_id = activity.get("external_whatsapp_message_id")
            # Every id the lead holds, not only this run's: the plan streams, so this run's ids
            # are not all known yet, and what Close holds is worth knowing on any later run.
            if wa_id and wa_id not in done:
                found.append({"op": "done", "id": wa_id, "close": activity["id"]})
        if found:
            self._checkpoint.record(*found)

    async def _create(
        self, p: Planned, payload: dict[str, Any], *, waits_for: str | None = None
    ) -> str | None:
        """Create the activity once; None when Close turned out to hold it already.

        `waits_for`: the parent it replies to, not in Close yet; its link is journaled as
        waiting in the same record as its `done`, so a crash cannot keep one without the other.
        """
        wa_id = p.external_id
        if wa_id in self._checkpoint.state.pending:
            # An earlier run sent this and died before hearing back: ask before resending.
            existing = await self._look_up(wa_id)
            if existing is not None:
                links = [waiting(wa_id, existing, waits_for)] if waits_for else []
                self._checkpoint.record({"op": "done", "id": wa_id, "close": existing}, *links)
                return None
        await self._checkpoint.write_ahead({"op": "intent", "id": wa_id, "chat": p.remote_phone})
        inbox = self._options.send_to_inbox and p.direction == "incoming"

        async def send() -> str:
            try:
                activity = await self._api.create_whatsapp_message(payload, send_to_inbox=inbox)
            except Rejected as refusal:
                raise _CreateRefused(refusal) from refusal
            return str(activity["id"])

        transport = self._api.transport
        activity_id, _ = await create_once(
            send, lambda: self._look_up(wa_id), transport.attempts(), transport.retry.second_look_s
        )
        links = [waiting(wa_id, activity_id, waits_for)] if waits_for else []
        self._checkpoint.record(
            {"op": "done", "id": wa_id, "close": activity_id, "sum": fingerprint(p.message)},
            *links,
        )
        return activity_id

    async def _look_up(self, wa_id: str) -> str | None:
        found = await self._api.find_whatsapp_messages(wa_id)
        return str(found[0]["id"]) if found else None

    async def _parent_id(self, p: Planned) -> str | None:
        parent = p.message.reply_to
        if not parent:
            return None
        known = self._checkpoint.state.done.get(parent)
        if known is not None:
            return known
        found = await self._api.find_whatsapp_messages(parent)
        if found:
            return str(found[0]["id"])
        self._report.note(
            _problem(
                p, f"replies to {parent}, which is not in Close yet: no reply link until it is"
            )
        )
        return None

    def _payload(
        self,
        p: Planned,
        lead_id: str,
        contact_id: str,
        attachments: list[dict[str, Any]],
        response_to: str | None,
    ) -> dict[str, Any]:
        message = p.message
        payload: dict[str, Any] = {
            "activity_at": message.timestamp.isoformat(),
            "contact_id": contact_id,
            "direction": p.direction,
            "external_whatsapp_message_id": message.external_id,
            "lead_id": lead_id,
            "local_phone": p.local_phone,
            "message_markdown": message.text,
            "remote_phone": p.remote_phone,
        }
        if attachments:
            payload["attachments"] = attachments
        if response_to:
            payload["response_to_id"] = response_to
        user_id = message.user_id or self._options.user_id
        if user_id:
            payload["user_id"] = user_id
        if message.integration_link:
            payload["integration_link"] = message.integration_link
        return payload

    def _fail(
        self, p: Planned, reason: str, *, rejected: bool = False, answered: bool = False
    ) -> None:
        """Report `p` as not imported; journal it as failed unless it may be in Close.

        A pending id (its create was sent, now or by an earlier run) stays pending until Close
        has `answered` for it (a create refused after lookups that found nothing): a `fail`
        would let the next run resend it without looking it up first.
        """
        if answered or p.external_id not in self._checkpoint.state.pending:
            failure = {"op": "fail", "id": p.external_id, "reason": reason, "chat": p.remote_phone}
            where = {"source": p.message.source, "line": p.message.line}  # for `status --failed`
            self._checkpoint.record(failure | where)
        else:
            reason += " (it may have reached Close: the next run looks it up before resending)"
        (self._report.reject if rejected else self._report.fail)(
            _problem(p, reason), p.remote_phone
        )


def is_changed(state: CheckpointState, p: Planned) -> bool:
    """Whether an imported message differs from what was sent; unknown sums do not count."""
    return state.sums.get(p.external_id) not in (None, fingerprint(p.message))


def fingerprint(message: Message) -> str:
    """What `--sync-edits` compares: the text and the attachments' names, types and sizes."""
    parts = [message.text] + [
        f"{a.filename}\0{a.content_type}\0{a.blob.size}" for a in message.attachments
    ]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def _problem(p: Planned, reason: str) -> Problem:
    return Problem(p.message.source, p.message.line, reason, p.external_id)
