"""`followupd auth SERVICE`: put credentials where the backends look for them."""

from __future__ import annotations

import argparse
import importlib

from followupd.config import Config

# Each service's sign-in lives with its backend; imported only when asked for.
_SERVICES = {
    "google": "followupd.google.signin:main",
    "imap": "followupd.mailboxes.imap:auth_main",
    "caldav": "followupd.calendars.caldav:auth_main",
}


def main(config: Config, args: argparse.Namespace) -> int:
    module, _, name = _SERVICES[args.service].partition(":")
    return int(getattr(importlib.import_module(module), name)(config, args))
