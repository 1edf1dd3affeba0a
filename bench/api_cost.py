"""API cost of a pass against the Google emulator: idle passes (1) and busy passes (2).

    /tmp/venv/bin/python bench/api_cost.py [--quick]

followupd runs in this process the way the daemon runs it: one Engine (real Gmail and
Google Calendar backends, real googleapiclient over HTTP to tests/support/google_emulator)
kept open across passes, the clock moved 5 minutes (the default poll) per pass. The
emulator counts requests and Gmail quota units per method. The sign-in is stored with
`followupd auth google --import`, and one idle pass per size is repeated through the
real CLI (`followupd run --once`) to show the same count.

The naive reference (`Naive` below) is what many follow-up scripts do on every pass:
list the calendar's events, then search Gmail once per tracked contact for mail
since the previous pass. It talks to the same emulator through the same client, so
the counters compare directly; it does not even look at drafts, so it is a lower
bound for such a script.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
from common import BASE, POLL

# Idle-pass scenarios: what the tracked interviews are waiting for.
UPCOMING = "upcoming"  # thank-you planned, its window opens next week
DRAFTED = "drafted"  # thank-you drafted, waiting for the user to send it or for a reply
SENT = "sent"  # thank-you sent, check-in planned, waiting for a reply
T_DRAFT = BASE + timedelta(days=1, hours=3)  # Tuesday 12:00 UTC: every "drafted" window is open


@dataclass
class Setup:
    home: Path
    config_path: Path
    emulator: Any
    clock: Any
    store: Any = None
    engine: Any = None


@contextlib.contextmanager
def google_home(work: Path, name: str) -> Iterator[Setup]:
    from followupd.clock import FixedClock

    emulator = common.start_emulator()
    try:
        home = work / name
        config_path = common.google_config(home, emulator)
        common.sign_in(home, config_path, emulator)
        clock = FixedClock(BASE)
        emulator.now = clock.now  # drafts and history are stamped with the pass's "now"
        yield Setup(home, config_path, emulator, clock)
    finally:
        emulator.stop()


@contextlib.contextmanager
def daemon_engine(setup: Setup) -> Iterator[Setup]:
    """The store and one long-lived Engine, as the daemon's pass thread holds them."""
    from followupd.app import opened

    config = common.load_config(setup.config_path)
    with opened(config, setup.clock) as (store, engine):
        setup.store, setup.engine = store, engine
        try:
            yield setup
        finally:
            setup.store = setup.engine = None


def run_pass(setup: Setup, at: datetime) -> Any:
    setup.clock.set(at)
    report = setup.engine.run_pass()
    if report.problems:
        raise RuntimeError(f"pass at {at}: {report.problems}")
    return report


def measured(setup: Setup, at: datetime) -> tuple[dict[str, int], int, int]:
    setup.emulator.reset_counts()
    run_pass(setup, at)
    return common.api_counts(setup.emulator)


def states(setup: Setup) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in setup.store.followups():
        counts[f"{f.step} {f.state}"] = counts.get(f"{f.step} {f.state}", 0) + 1
    return counts


# ---------------------------------------------------------------- the naive reference


class Naive:
    """Every pass: events.list over the open windows, then one messages.list per contact
    (q="from:<contact> after:<previous pass>"), and messages.get for whatever matched."""

    def __init__(self, setup: Setup) -> None:
        from followupd.google.api import GoogleApi
        from followupd.secrets import SecretStore

        config = common.load_config(setup.config_path)
        self.api = GoogleApi(config, SecretStore("file", config.state_dir))
        self.last: datetime | None = None

    def run_pass(self, now: datetime) -> int:
        since = self.last or now - timedelta(days=3)
        contacts: set[str] = set()
        for page in self.api.pages(
            "calendar",
            "events.list",
            lambda c, token: c.events().list(
                calendarId="primary",
                singleEvents=True,
                maxResults=2500,
                pageToken=token,
                timeMin=(now - timedelta(days=3)).isoformat().replace("+00:00", "Z"),
            ),
        ):
            for event in page.get("items", []):
                if "interview" in event.get("summary", "").lower():
                    contacts |= {a["email"] for a in event.get("attendees", []) if not a.get("self")}
        found = 0
        for contact in sorted(contacts):
            query = f"from:{contact} after:{int(since.timestamp())}"
            listing = self.api.call(
                "gmail", "messages.list", lambda c, q=query: c.users().messages().list(userId="me", q=q)
            )
            for item in listing.get("messages", []):
                self.api.call(
                    "gmail",
                    "messages.get",
                    lambda c, i=item["id"]: c.users().messages().get(userId="me", id=i, format="metadata"),
                )
                found += 1
        self.last = now
        return found

    def close(self) -> None:
        self.api.close()


def naive_idle(setup: Setup, at: datetime) -> tuple[dict[str, int], int, int]:
    naive = Naive(setup)
    try:
        naive.run_pass(at - POLL)  # its own settling pass (and token refresh)
        setup.emulator.reset_counts()
        naive.run_pass(at)
        return common.api_counts(setup.emulator)
    finally:
        naive.close()


# ---------------------------------------------------------------- 1. idle passes


def interviews_for(scenario: str, n: int) -> list[dict[str, Any]]:
    if scenario == UPCOMING:
        # Next week, one every 10 minutes: every thank-you is planned, none due.
        return [common.google_interview(i, BASE + timedelta(days=7, minutes=10 * i)) for i in range(n)]
    # Ended 25 h (and up to 17 h more) before T_DRAFT: every thank-you window is open then.
    return [common.google_interview(i, T_DRAFT - timedelta(hours=26, minutes=i)) for i in range(n)]


def idle(work: Path, scenario: str, n: int) -> dict[str, Any]:
    with google_home(work, f"idle-{scenario}-{n}") as setup:
        for event in interviews_for(scenario, n):
            setup.emulator.put_event(event)
        at = BASE if scenario == UPCOMING else T_DRAFT
        with daemon_engine(setup):
            run_pass(setup, at)  # first sync: full calendar listing, mail look-back, drafts
            if scenario == SENT:
                at += timedelta(hours=2)
                for _, message in setup.emulator.drafts():
                    setup.emulator.send_draft(message.message_id, at - timedelta(minutes=30))
            at += POLL
            run_pass(setup, at)  # sees the drafts' own history (or the sent drafts)
            at += POLL
            run_pass(setup, at)
            at += POLL
            methods, requests, units = measured(setup, at)
            seen = states(setup)
        expected = {UPCOMING: "thank-you planned", DRAFTED: "thank-you drafted", SENT: "check-in planned"}[scenario]
        assert seen.get(expected) == n, seen
        # The same idle pass through the real CLI, in a fresh process.
        at += POLL
        setup.emulator.reset_counts()
        common.followupd(setup.home, setup.config_path, "run", "--once", "--now", at.isoformat())
        _, cli_requests, cli_units = common.api_counts(setup.emulator)
        token = setup.emulator.requests["oauth.token"]
        naive_methods, naive_requests, naive_units = naive_idle(setup, at + POLL)
    return {
        "scenario": scenario,
        "n": n,
        "methods": methods,
        "requests": requests,
        "units": units,
        "cli": (cli_requests, cli_units, token),
        "naive": (naive_methods, naive_requests, naive_units),
    }


# ---------------------------------------------------------------- 2. busy passes


def busy(work: Path, background: int) -> list[tuple[str, int, dict[str, int], int, int]]:
    """A sequence of passes on one mailbox with `background` upcoming interviews, each
    with k changes; returns (change, k, methods, requests, units)."""
    groups = {1: range(background, background + 1), 10: range(background + 1, background + 11)}
    results = []
    with google_home(work, f"busy-{background}") as setup:
        emulator = setup.emulator
        for event in interviews_for(UPCOMING, background):
            emulator.put_event(event)
        # Group k's interviews end Monday 10:00 or 12:00, so their thank-you windows open
        # on Tuesday inside business hours: one pass then drafts all k.
        opens = {1: BASE + timedelta(hours=25), 10: BASE + timedelta(hours=27)}
        for k, members in groups.items():
            for i in members:
                emulator.put_event(common.google_interview(i, opens[k] - timedelta(hours=25)))
        with daemon_engine(setup):
            at = BASE + timedelta(hours=1)
            run_pass(setup, at)
            at += POLL
            run_pass(setup, at)

            def step(label: str, k: int, when: datetime) -> None:
                results.append((label, k, *measured(setup, when)))

            for k in groups:
                step("thank-you due: drafts created", k, opens[k] + timedelta(minutes=1))
                run_pass(setup, opens[k] + timedelta(minutes=6))  # the drafts' own history
            at = opens[10] + timedelta(minutes=11)
            run_pass(setup, at)
            idle_methods, idle_requests, idle_units = measured(setup, at + POLL)
            results.insert(0, ("nothing (idle, with 11 drafts waiting)", 0, idle_methods, idle_requests, idle_units))
            at += 2 * POLL
            for k in (1, 10):
                for j in range(k):
                    emulator.deliver(
                        common.mail(
                            f"News {j} <news@letters.example>",
                            f"Digest {j}",
                            f"<news{k}-{j}@letters.example>",
                            at - timedelta(minutes=1),
                        ),
                        at - timedelta(minutes=1),
                    )
                step("new unrelated messages", k, at)
                at += POLL
            for k, members in groups.items():
                for i in members:
                    emulator.deliver(
                        common.mail(
                            f"Recruiter <{common.recruiter_address(i)}>",
                            "Re: your interview",
                            f"<reply{i}@company{i}.example>",
                            at - timedelta(minutes=1),
                        ),
                        at - timedelta(minutes=1),
                    )
                step("replies: sequence stopped, untouched draft deleted", k, at)
                at += POLL
            assert all(f.state == "replied" for f in setup.store.followups() if int(f.uid[2:]) >= background), states(
                setup
            )
    return results


# ---------------------------------------------------------------- IMAP


class ImapCommands:
    """Counts IMAP commands this process sends: imaplib tags every command, including
    the ones imapclient writes itself."""

    def __init__(self) -> None:
        import imaplib

        self.count = 0
        real = imaplib.IMAP4._new_tag

        def tagging(imap: Any) -> bytes:
            self.count += 1
            return real(imap)

        imaplib.IMAP4._new_tag = tagging  # type: ignore[method-assign]


def imap_idle(work: Path, server: Any, commands: ImapCommands, n: int) -> tuple[int, int]:
    """(commands of an idle pass with n drafted thank-yous waiting, of one with n planned)."""
    from followupd.app import opened
    from followupd.clock import FixedClock
    from followupd.secrets import SecretStore

    results = []
    for drafted in (True, False):
        account = server.add_user()
        home = work / f"imap-{n}-{drafted}"
        home.mkdir()
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(hours=26) if drafted else now + timedelta(days=7)
        events = [common.ics_interview(i, start - timedelta(minutes=i)) for i in range(n)]
        (home / "calendar.ics").write_text(common.ics_calendar(events), encoding="utf-8")
        config_path = common.write_config(
            home,
            f'kind = "ics"\npath = "{home / "calendar.ics"}"',
            account.mailbox_toml(),
            '[window]\nbusiness_hours = "00:00-24:00"\nweekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
            '[secrets]\nbackend = "file"\n',
        )
        SecretStore("file", home / "state").set("imap", account.username, account.password)
        clock = FixedClock(now)
        with opened(common.load_config(config_path), clock) as (store, engine):
            for k in range(3):
                clock.set(now + k * POLL)
                assert not engine.run_pass().problems
            state = "drafted" if drafted else "planned"
            assert sum(f.state == state for f in store.followups() if f.step == "thank-you") == n
            before = commands.count
            clock.set(now + 3 * POLL)
            engine.run_pass()
            results.append(commands.count - before)
    return results[0], results[1]


# ---------------------------------------------------------------- report


@contextlib.contextmanager
def dovecot() -> Iterator[Any]:
    with common.dovecot_if_installed("no IMAP figures") as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    args = common.arguments(__doc__.splitlines()[0], argv)
    sizes = (1, 10, 100) if args.quick else (1, 10, 100, 1000)
    out = []
    with common.workdir(args.keep, "api") as work:
        rows = []
        runs = []
        for scenario in (UPCOMING, DRAFTED, SENT):
            for n in sizes:
                if scenario == SENT and n > 100:
                    continue  # sending 1,000 drafts through the emulator adds a minute and shows nothing new
                r = idle(work, scenario, n)
                runs.append(r)
                naive_methods, naive_requests, naive_units = r["naive"]
                rows.append(
                    [
                        scenario,
                        n,
                        common.describe(r["methods"]),
                        r["requests"],
                        r["units"],
                        r["cli"][0],
                        naive_requests,
                        naive_units,
                        f"{naive_requests / r['requests']:.1f}×",
                        f"{naive_units / r['units']:.1f}×",
                    ]
                )
                print(
                    f"idle {scenario} {n}: {r['requests']} requests, {r['units']} units; naive {naive_requests}, {naive_units}",
                    file=sys.stderr,
                )
        out.append(
            common.section(
                "1. API cost of an idle pass",
                "Requests (Gmail + Calendar API) and Gmail quota units of one pass in which nothing changed, "
                "in a long-running process (the daemon's case); `CLI` is the same idle pass as a fresh "
                "`followupd run --once` process (API requests, without its one OAuth token refresh). "
                "Naive: one `events.list` plus one Gmail `messages.list` per tracked contact per pass.\n\n"
                + common.table(
                    [
                        "tracked interviews are",
                        "N",
                        "followupd requests by method",
                        "requests",
                        "Gmail units",
                        "CLI requests",
                        "naive requests",
                        "naive units",
                        "requests ratio",
                        "units ratio",
                    ],
                    rows,
                ),
            )
        )

        imap_rows = []
        with dovecot() as server:
            if server is not None:
                commands = ImapCommands()
                for n in sizes[:-1] if not args.quick else sizes:
                    drafted, planned = imap_idle(work, server, commands, n)
                    imap_rows.append([n, planned, drafted])
                    print(f"imap idle {n}: {planned} / {drafted} commands", file=sys.stderr)
        if imap_rows:
            out.append(
                common.section(
                    "1b. IMAP commands of an idle pass",
                    "The same idle pass on an IMAP mailbox (a real Dovecot, in-process Engine, ICS calendar): IMAP "
                    "commands sent (every tagged command; the connection stays open between passes; after more than "
                    "60 s idle a NOOP checks it first, which adds one at the default 5-minute poll).\n\n"
                    + common.table(["N", "commands, N thank-yous planned", "commands, N drafts waiting"], imap_rows),
                )
            )

        busy_rows = []
        for background in (10, 100):
            for label, k, methods, requests, units in busy(work, background):
                busy_rows.append([background, label, k, common.describe(methods), requests, units])
                print(f"busy {background} {label} {k}: {requests}", file=sys.stderr)
        out.append(
            common.section(
                "2. API cost of a busy pass",
                "One mailbox with N upcoming interviews in the background plus 11 whose thank-you comes due "
                "(1, then 10); then new unrelated mail arrives (1, then 10 messages), then the recruiters "
                "of the 11 reply (1, then 10). One row per pass.\n\n"
                + common.table(["N", "what changed", "k", "requests by method", "requests", "Gmail units"], busy_rows),
            )
        )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
