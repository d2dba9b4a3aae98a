"""Every message on the right lead and contact: mapping, lookup, ambiguity, unknown phones."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from importer.cli import main
from importer.contacts import load_mapping
from importer.emulator import Emulator, EmulatorConfig
from importer.emulator.process import EmulatorProcess
from tests.conftest import API_KEY, LOCAL_PHONE, SAMPLES, ThreadedEmulator, cli_import
from tests.test_crash import slow_close  # noqa: F401 - a fixture

JONAS = "+493055550199"  # in seed.json, not in mapping.csv
UNKNOWN = ["+16505550150", "+16505550151", "+16505550152"]


def write_chats(path: Path, phones: list[str], per_chat: int, names: bool = False) -> None:
    rows = []
    for c, phone in enumerate(phones):
        for n in range(per_chat):
            row: dict[str, Any] = {
                "id": f"c{c}-m{n}",
                "timestamp": 1_700_000_000 + n * 10 + c,
                "direction": "incoming" if n % 2 == 0 else "outgoing",
                "remote_phone": phone,
                "text": f"hello {n}",
            }
            rows.append(row)
    if names:
        # Cloud API lines carry the sender's profile name: a lead made for them can use it.
        rows.append(cloud_message(phones[0], "Ada Lovelace"))
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")


def cloud_message(phone: str, name: str) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": LOCAL_PHONE.lstrip("+"), "phone_number_id": "1"},
        "contacts": [{"profile": {"name": name}, "wa_id": phone.lstrip("+")}],
        "messages": [
            {
                "from": phone.lstrip("+"),
                "id": "wamid.named",
                "timestamp": "1700000001",
                "type": "text",
                "text": {"body": "hi, it's Ada"},
            }
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def run(emu: Emulator, tmp_path: Path, *extra: str) -> int:
    return cli_import(emu, tmp_path, tmp_path / "chats.jsonl", *extra)[0]


def problems(tmp_path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = orjson.loads((tmp_path / "report.json").read_bytes())["problems"]
    return found


def test_one_lookup_per_phone_however_many_messages(
    close_server: Emulator, seed: dict[str, Any], tmp_path: Path
) -> None:
    write_chats(tmp_path / "chats.jsonl", [JONAS], per_chat=40)

    assert run(close_server, tmp_path, "--concurrency", "16") == 0

    assert close_server.state.requests("POST", "data_search") == 1
    bakery = seed["leads"][1]
    assert {a["lead_id"] for a in close_server.state.activities.values()} == {bakery["id"]}
    assert len(close_server.state.activities) == 40
    # The next run knows the answer from the checkpoint: no second lookup.
    write_chats(tmp_path / "chats.jsonl", [JONAS], per_chat=41)
    assert run(close_server, tmp_path) == 0
    assert close_server.state.requests("POST", "data_search") == 1


def test_the_mapping_wins_over_a_lookup(close_server: Emulator, tmp_path: Path) -> None:
    write_chats(tmp_path / "chats.jsonl", ["+1 650-555-0123"], per_chat=3)

    assert run(close_server, tmp_path, "--mapping", str(SAMPLES / "mapping.csv")) == 0

    assert close_server.state.requests("POST", "data_search") == 0


def test_ambiguous_phones_are_held_back_with_candidates_unless_told(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    twice = {
        "leads": [
            *seed["leads"],
            {
                "name": "Acme again",
                "contacts": [{"name": "Maria (old)", "phones": ["+16505550123"]}],
            },
        ]
    }
    write_chats(tmp_path / "chats.jsonl", ["+16505550123"], per_chat=4)
    with ThreadedEmulator(EmulatorConfig(data=twice)) as emu:
        assert run(emu, tmp_path) == 1
        assert emu.state.activities == {}
        reasons = {p["reason"] for p in problems(tmp_path)}
        assert len(problems(tmp_path)) == 4
        (reason,) = reasons
        assert "matches 2 contacts" in reason
        assert all(
            c.id in reason for c in emu.state.contacts.values() if c.name.startswith("Maria")
        )

        assert run(emu, tmp_path, "--pick", "first") == 0
        assert len(emu.state.activities) == 4


def test_unknown_phones_are_held_back_then_created_once_with_create_missing(
    close_server: Emulator, tmp_path: Path
) -> None:
    write_chats(tmp_path / "chats.jsonl", UNKNOWN, per_chat=5, names=True)

    assert run(close_server, tmp_path) == 1
    assert close_server.state.activities == {}
    assert all("no Close contact has phone" in p["reason"] for p in problems(tmp_path))

    assert run(close_server, tmp_path, "--create-missing") == 0
    assert close_server.state.counters["leads_created"] == len(UNKNOWN)
    named = [lead.name for lead in close_server.state.leads.values()]
    assert "Ada Lovelace" in named  # the archive's display name
    assert UNKNOWN[1] in named  # no name in the archive: the phone

    assert run(close_server, tmp_path, "--create-missing") == 0
    assert close_server.state.counters["leads_created"] == len(UNKNOWN)


def test_create_missing_makes_each_lead_once_across_killed_runs(
    slow_close: EmulatorProcess,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    write_chats(tmp_path / "chats.jsonl", UNKNOWN, per_chat=60)
    command = [
        sys.executable, "-m", "importer", "run", str(tmp_path / "chats.jsonl"),
        "--base-url", slow_close.base_url, "--api-key", API_KEY,
        "--local-phone", LOCAL_PHONE, "--create-missing", "--concurrency", "4",
        "--checkpoint", str(tmp_path / "run.ckpt"),
    ]  # fmt: skip
    rng = random.Random(9)
    for _ in range(3):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.2))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0

    state = slow_close.state()
    by_phone: dict[str, set[str]] = {}
    for lead in state["leads"]:
        for contact in lead["contacts"]:
            for phone in contact["phones"]:
                by_phone.setdefault(phone["phone"], set()).add(lead["id"])
    assert all(len(by_phone[phone]) == 1 for phone in UNKNOWN)
    activities = state["activities"].values()
    assert len(activities) == 3 * 60
    for phone in UNKNOWN:
        assert {a["lead_id"] for a in activities if a["remote_phone"] == phone} == by_phone[phone]


def test_a_mapping_row_that_is_not_a_phone_is_a_problem_naming_its_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.csv"
    mapping.write_text(
        "phone,lead_id,contact_id,name\n+1 650 555 0123,lead_a,cont_a,\nnope,lead_b,cont_b,\n"
        "+1 650 555 0124,lead_c,oops,\n,,,Jake Morrison\n"
    )
    loaded = load_mapping(mapping, None)
    assert loaded.contacts == {"+16505550123": ("lead_a", "cont_a")}
    assert [(p.source, p.line, p.reason) for p in loaded.problems] == [
        (str(mapping), 3, "mapping row not used: not a phone number: 'nope'"),
        (
            str(mapping),
            4,
            "mapping row not used for Close: need a lead_... and a cont_... id for +1 650 555 0124",
        ),
    ]


def test_mapping_template_lists_every_phone_and_feeds_back_as_mapping(
    close_server: Emulator, seed: dict[str, Any], tmp_path: Path
) -> None:
    import csv

    write_chats(tmp_path / "chats.jsonl", [UNKNOWN[0], JONAS], per_chat=3, names=True)
    template = tmp_path / "template.csv"
    args = ["inspect", str(tmp_path / "chats.jsonl"), "--local-phone", LOCAL_PHONE]
    args += ["--mapping-template", str(template), "--base-url", close_server.base_url]

    assert main([*args, "--api-key", API_KEY]) == 0

    with template.open(newline="") as handle:
        rows = {row["phone"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted([JONAS, UNKNOWN[0]])
    assert rows[JONAS]["lead_id"] == seed["leads"][1]["id"]
    assert rows[JONAS]["close"] == "found"
    assert (rows[UNKNOWN[0]]["lead_id"], rows[UNKNOWN[0]]["close"]) == ("", "not in Close")
    assert rows[UNKNOWN[0]]["display_name"] == "Ada Lovelace"
    assert (rows[UNKNOWN[0]]["messages"], rows[JONAS]["messages"]) == ("4", "3")
    assert rows[JONAS]["first"].startswith("2023-11-14T22:13")

    # Filled in or not, the template is a valid --mapping: filled rows map, empty ones look up.
    assert run(close_server, tmp_path, "--mapping", str(template)) == 1
    assert {a["remote_phone"] for a in close_server.state.activities.values()} == {JONAS}


async def test_a_lead_intent_left_by_a_killed_run_is_searched_again_before_creating(
    tmp_path: Path,
) -> None:
    from importer.checkpoint import Checkpoint
    from importer.close.retry import RetryPolicy
    from importer.contacts import ContactResolver, Defaults, LookupOptions

    class LaggingSearch:
        """A Close whose search index has not caught up with a lead made a moment ago."""

        def __init__(self) -> None:
            self.searches = 0
            self.created = 0

        async def search_contacts_by_phone(self, phone: str) -> list[dict[str, Any]]:
            self.searches += 1
            caught_up = phone == UNKNOWN[0] and self.searches > 1
            return [{"id": "cont_made", "lead_id": "lead_made"}] if caught_up else []

        async def create_lead(self, name: str, contact_name: str, phone: str) -> tuple[str, str]:
            self.created += 1
            return "lead_new", "cont_new"

    checkpoint = Checkpoint(tmp_path / "c.ckpt")
    await checkpoint.open()
    await checkpoint.intend_lead(UNKNOWN[0])  # as the killed run did, just before its POST
    close = LaggingSearch()
    resolver = ContactResolver(
        {}, Defaults(), {}, close, checkpoint,
        options=LookupOptions(create_missing=True, retry=RetryPolicy(second_look_s=0.01)),
    )  # fmt: skip

    assert await resolver.resolve(UNKNOWN[0], None, None) == ("lead_made", "cont_made")
    assert (close.searches, close.created) == (2, 0)
    assert await resolver.resolve(UNKNOWN[1], None, None) == ("lead_new", "cont_new")
    assert close.created == 1
    await checkpoint.close()
    assert not checkpoint.lead_intended(UNKNOWN[1])  # its contact record settled it
