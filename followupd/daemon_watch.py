"""The daemon's mailbox watch: a mailbox that can push (IMAP IDLE) wakes a pass."""

from __future__ import annotations

import logging
from collections.abc import Callable

from followupd.mailboxes import Mailbox

log = logging.getLogger(__name__)


class MailWatch:
    """Let the mailbox wake us on new mail, once per opened mailbox.

    Used from the pass thread only. `Mailbox.watch` should start its own thread (IDLE
    needs a connection of its own) and return quickly. Its stop function is called
    before the daemon closes the mailbox, or after the engine dropped a failing one
    (so it must tolerate a closed mailbox).
    """

    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self._watched: Mailbox | None = None
        self._unwatch: Callable[[], None] | None = None

    def follow(self, mailbox: Mailbox | None) -> None:
        """Watch `mailbox` (the engine's current one); nothing to do if it is watched already."""
        if mailbox is self._watched:
            return
        self.stop()
        self._watched = mailbox
        if mailbox is None:
            return
        try:
            self._unwatch = mailbox.watch(self.wake)
        except Exception as exc:  # noqa: BLE001 - push is an optimisation; polling still works
            log.warning("%s cannot push new mail (%s); polling instead", mailbox.label, exc)
            return
        if self._unwatch is not None:
            log.info("%s pushes new mail: a pass runs as soon as some arrives", mailbox.label)

    def stop(self) -> None:
        stop, self._unwatch, self._watched = self._unwatch, None, None
        if stop is not None:
            try:
                stop()
            except Exception:  # noqa: BLE001
                log.debug("stopping the mailbox watch failed", exc_info=True)
