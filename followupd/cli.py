"""The command line. The one place where errors become messages and exit codes.

Heavy modules (Jinja2, icalendar, the Google client) are imported inside the
commands that need them, so `followupd --help` starts fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from followupd import __version__
from followupd.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, FollowupdError
from followupd.printable import printable, printable_json

log = logging.getLogger("followupd")

EXIT_CODES = """exit codes:
  0   success
  1   an error (a message says what and where)
  2   wrong usage (an unknown option, an unreadable --now)
  75  a server or the network is down; it will work again later
  77  credentials were refused or cannot be read (the keyring is locked or
      missing): run `followupd auth …` or fix [secrets]
  78  the config file or a template is invalid"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _instant(text: str) -> str:
    """--now: checked while parsing, so a bad value is a usage error (exit 2)."""
    from followupd.clock import parse_instant

    try:
        parse_instant(text)
    except ValueError as exc:
        detail = str(exc) if "UTC offset" in str(exc) else f"{text!r} is not an ISO 8601 instant"
        raise argparse.ArgumentTypeError(f"{detail}; write e.g. 2026-11-25T15:00:00+00:00") from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="followupd",
        description="Drafts a thank-you and a check-in after each job interview in your calendar. "
        "It only ever writes drafts: you read, edit and send them yourself.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $FOLLOWUPD_CONFIG, then ~/.config/followupd/config.toml)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--version", action="version", version=f"followupd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run as a daemon, or one pass with --once")
    run.add_argument("--once", action="store_true", help="run one pass and exit")
    run.add_argument(
        "--now",
        type=_instant,
        metavar="ISO8601",
        help="with --once: act as if it were this instant (e.g. 2026-11-25T15:00:00+00:00)",
    )

    status = sub.add_parser("status", help="show interviews, their follow-ups and any problem")
    status.add_argument("--json", action="store_true", help="a JSON array, one object per (interview, step)")
    status.add_argument(
        "--all", action="store_true", help="also the events seen and not followed, with the reason (state: ignored)"
    )

    sub.add_parser("check", help="validate the config file and the templates")
    sub.add_parser("config-schema", help="print the JSON schema of config.toml (for editors such as Taplo)")
    init = sub.add_parser("init", help="write a starter config and the default templates (never overwrites)")
    init.add_argument("--force-templates", action="store_true", help=argparse.SUPPRESS)

    preview = sub.add_parser("preview", help="print the draft for an interview without touching the mailbox")
    preview.add_argument("uid", metavar="ID", help="an id from `followupd status`, or the interview's UID")
    preview.add_argument("--step", help="which step (default: the first)")
    preview.add_argument(
        "--person", metavar="EMAIL", help="of a per_person step, only the draft to this person (default: each one)"
    )
    preview.add_argument("--now", type=_instant, metavar="ISO8601", help="render as if it were this instant")

    skip = sub.add_parser("skip", help="stop following up on one interview, or every occurrence of a series")
    skip.add_argument("uid", metavar="ID", help="an id from `followupd status` (sync#1104), a series' (sync), or a UID")
    skip.add_argument("--undo", action="store_true", help="follow up on it again")
    skip.add_argument("--now", type=_instant, metavar="ISO8601", help="re-plan as if it were this instant")

    note = sub.add_parser("note", help="your notes for an interview (Role:, Company:, Notes:), kept by followupd")
    note.add_argument("uid", metavar="ID", help="an id from `followupd status`, or the interview's UID")
    note.add_argument("text", nargs="?", help="the notes; without it, $VISUAL or $EDITOR opens on them")
    note.add_argument("--clear", action="store_true", help="remove your notes")
    track = sub.add_parser("track", help="follow up on an event followupd ignored (the inverse of skip)")
    track.add_argument(
        "uid", metavar="ID", help="an id from `followupd status --all` (sync#1104), a series' (sync), or a UID"
    )
    track.add_argument("--undo", action="store_true", help="let the detector decide again")
    track.add_argument("--now", type=_instant, metavar="ISO8601", help="as if it were this instant")
    explain = sub.add_parser("explain", help="say in plain words what followupd read from one event")
    explain.add_argument("uid", metavar="ID", help="an id from `followupd status --all`, or an event UID")
    explain.add_argument("--now", type=_instant, metavar="ISO8601", help="as if it were this instant")

    demo = sub.add_parser("demo", help="run the whole pipeline on a sample calendar and a temporary Maildir")
    demo.add_argument("--keep", metavar="DIR", help="build the demo in DIR and keep it")

    auth = sub.add_parser("auth", help="sign in to Google, or store an IMAP/CalDAV password")
    auth_sub = auth.add_subparsers(dest="service", metavar="SERVICE", required=True, parser_class=_Parser)
    google = auth_sub.add_parser("google", help="sign in with Google (Calendar and Gmail)")
    google.add_argument("--client-secrets", metavar="FILE", help="the OAuth client JSON downloaded from Google Cloud")
    google.add_argument(
        "--no-browser", action="store_true", help="print the sign-in URL instead of opening a browser (for SSH)"
    )
    google.add_argument("--port", type=int, default=0, help="loopback port for the redirect (default: any free one)")
    google.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS", help="how long to wait for the redirect (300)"
    )
    google.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE",
        help="store credentials from an authorized-user JSON instead of signing in",
    )
    auth_sub.add_parser("imap", help="store the IMAP password in the keyring (after a test login)")
    auth_sub.add_parser("caldav", help="store the CalDAV password in the keyring (after a test login)")
    return parser


class _SafeFormatter(logging.Formatter):
    """Writes control characters from calendar and mail text (a UID with ESC [ 2 J, a
    title with a bidi override) as escapes: a log line never drives the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


class _JournalFormatter(_SafeFormatter):
    """Prefixes each line with its syslog priority (`<4>` for a warning), which journald
    reads (SyslogLevelPrefix=), so `journalctl -p warning` finds our warnings."""

    PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITY.get(record.levelno, 6)
        # Each line of a multi-line record (a traceback) is its own journal entry.
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def _stderr_is_journal() -> bool:
    # systemd sets JOURNAL_STREAM to the device:inode of the stream it connected;
    # a shell started from a unit inherits the variable but not the stream.
    try:
        device, inode = (int(part) for part in os.environ.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def setup_logging(verbose: bool, debug: bool, default: int) -> None:
    level = logging.DEBUG if debug or verbose else default
    # journald stamps every line itself; elsewhere a time helps when reading back.
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "%(levelname)s %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=level, format=fmt, datefmt="%Y-%m-%d %H:%M:%S", stream=sys.stderr, force=True)
    formatter = _JournalFormatter(fmt) if _stderr_is_journal() else _SafeFormatter(fmt, "%Y-%m-%d %H:%M:%S")
    logging.getLogger().handlers[0].setFormatter(formatter)
    if not debug:
        for noisy in ("googleapiclient", "google", "urllib3", "caldav", "imapclient", "apscheduler"):
            logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.verbose, args.debug, logging.INFO if args.command in ("run",) else logging.WARNING)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # here, so a reader that left is noticed inside the try
        return code
    except FollowupdError as exc:
        if args.debug:
            log.exception("error")
        _say(f"followupd: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`followupd status | head -1`): what it wanted, it has.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a message, not a traceback
        if args.debug:
            raise
        _say(
            f"followupd: unexpected {type(exc).__name__}: {exc}\n"
            "This is a bug; run again with --debug and report the traceback."
        )
        return EXIT_ERROR


def _say(text: str) -> None:
    """A message for the user on stderr, escaped like the log (it may quote an event)."""
    print(printable(text), file=sys.stderr)


def _out(text: str) -> None:
    """Output on stdout; calendar text in it cannot drive the terminal."""
    print(printable(text))


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "demo":
        from followupd.demo import run_demo

        return run_demo(Path(args.keep) if args.keep else None)
    if command == "init":
        return _init(args)
    if command == "config-schema":
        from followupd.config_schema import schema_text

        sys.stdout.write(schema_text())
        return EXIT_OK
    from followupd import config as config_module

    path = config_module.find_config(args.config)
    config = config_module.load(path)
    if command == "run":
        return _run(config, args)
    if command == "status":
        return _status(config, args)
    if command == "check":
        return _check(config)
    if command == "preview":
        return _preview(config, args)
    if command in ("skip", "note", "track"):
        from followupd.say_commands import correct

        correct(config, args, _clock(getattr(args, "now", None)), _out)
        return EXIT_OK
    if command == "explain":
        from followupd.say_commands import explain_command

        explain_command(config, args.uid, _clock(args.now), _out)
        return EXIT_OK
    if command == "auth":
        from followupd import auth

        _out(auth.main(config, args, _out))
        return EXIT_OK
    raise AssertionError(command)


def _clock(now: str | None):  # type: ignore[no-untyped-def]
    from followupd.clock import FixedClock, SystemClock, parse_instant

    if now is None:
        return SystemClock()
    return FixedClock(parse_instant(now))  # checked by argparse already (_instant)


def _run(config, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    if args.now and not args.once:
        raise FollowupdError("--now only works with --once (the daemon follows the real clock)")
    clock = _clock(args.now)
    if not args.once:
        from followupd.daemon import run_daemon

        return run_daemon(config)
    from followupd.app import opened
    from followupd.notify import Notifier
    from followupd.printable import printable_fields

    notify = Notifier(config.notify.command)
    with opened(config, clock) as (_store, engine):
        report = engine.run_pass()
    for message in report.repeated:  # the daemon logs an outage once; a one-off run always says why
        log.warning("still failing: %s", message)
    for notice in report.notices:
        notify(printable_fields(notice))  # a NUL or an escape in a UID must not reach the environment
    return report.exit_code


def _status(config, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from followupd import status
    from followupd.clock import SystemClock
    from followupd.store import Store

    zone = config.me.timezone
    if not (config.state_dir / "state.sqlite3").exists():
        if args.json:
            print("[]")
        else:
            print(f"Nothing tracked yet (no state in {config.state_dir}). Run `followupd run --once`.")
        return EXIT_OK
    now = SystemClock().now()
    store = Store.open(config.state_dir, now, readonly=True)
    try:
        if args.json:
            data = status.rows(store, zone) + (status.ignored_rows(store, zone) if args.all else [])
            print(printable_json(json.dumps(data, indent=2, ensure_ascii=False)))
        else:
            _out(status.table(store, zone, now, everything=args.all))
    finally:
        store.close()
    return EXIT_OK


def _check(config) -> int:  # type: ignore[no-untyped-def]
    from followupd.checks import offline
    from followupd.clock import SystemClock
    from followupd.compose import check_templates

    now = SystemClock().now()
    sources = check_templates(config, now)
    # Local and cheap: a missing file or folder fails here, not at the first pass.
    lines, problems = offline(config, now)
    if problems:
        raise FollowupdError(f"{config.path}:\n" + "\n".join(f"  {p}" for p in problems))
    print(f"{config.path}: OK")
    print(f"  calendar: {config.calendar.label}")
    print(f"  mailbox:  {config.mailbox.label}")
    for line in lines:
        print(f"            {line}")
    print(f"  state:    {config.state_dir}")
    for line in sources:
        print(f"  template {line}")
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from importlib import resources

    from followupd import config as config_module

    path = config_module.find_config(args.config)
    written, kept = [], []
    # The config names commands that run through /bin/sh (password_command, [notify]
    # command): nobody else may write it, whatever the umask (it may be 000).
    _private_dir(path.parent)
    example = resources.files("followupd").joinpath("data/config.example.toml").read_text(encoding="utf-8")
    if _write_private(path, example):
        written.append(path)
    else:
        kept.append(path)
    templates = path.parent / "templates"
    _private_dir(templates)
    for item in resources.files("followupd").joinpath("templates").iterdir():
        if item.name.endswith(".j2"):
            target = templates / item.name
            if _write_private(target, item.read_text(encoding="utf-8")):
                written.append(target)
            else:
                kept.append(target)
    for p in written:
        _out(f"wrote {p}")
    for p in kept:
        _out(f"kept  {p} (already there)")
    _out(f"\nNext: edit {path} ([me], [calendar], [mailbox]), then run `followupd check`.")
    return EXIT_OK


def _private_dir(directory: Path) -> None:
    """Create `directory` 0700 (and missing parents), or leave an existing one as the user made it."""
    if directory.is_dir():
        return
    _private_dir(directory.parent)  # a missing ~/.config too, as the XDG spec asks (0700)
    directory.mkdir(mode=0o700)
    directory.chmod(0o700)  # mkdir's mode is filtered by the umask; chmod's is not


def _write_private(path: Path, text: str) -> bool:
    """Write a new 0600 file; False (and nothing written) if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _preview(config, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from followupd.preview import preview

    _out(preview(config, args.step, args.uid, _clock(args.now), explicit_now=args.now is not None, person=args.person))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
