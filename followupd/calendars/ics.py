"""An iCalendar file on disk or behind an http(s) URL (a "secret address" feed)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

from followupd import __version__
from followupd.calendars import CalendarChanges, CalendarSource, TimeRange
from followupd.calendars.ical import events_in, parse_calendar
from followupd.errors import BackendError, TransientError

if TYPE_CHECKING:
    from followupd.config import Config, IcsCalendar
    from followupd.secrets import SecretStore


class IcsSource(CalendarSource):
    def __init__(self, config: Config, secrets: SecretStore | None = None) -> None:
        self.settings: IcsCalendar = config.calendar  # type: ignore[assignment]
        self.zone = config.me.timezone
        self.label = self.settings.label

    def fetch(self, cursor: str | None, span: TimeRange) -> CalendarChanges:
        data = self._read()
        try:
            calendar = parse_calendar(data, self.label)
        except ValueError as exc:
            raise BackendError(f"{exc}; check [calendar] {'url' if self.settings.url else 'path'}") from None
        events, problems = events_in([calendar], span, self.zone, self.label)
        return CalendarChanges(events=events, complete=True, problems=problems)

    def _read(self) -> bytes:
        if self.settings.path is not None:
            try:
                return self.settings.path.read_bytes()
            except FileNotFoundError:
                raise BackendError(
                    f"calendar file {self.settings.path} does not exist; check [calendar] path"
                ) from None
            except OSError as exc:
                raise BackendError(f"cannot read calendar file {self.settings.path}: {exc.strerror}") from None
        assert self.settings.url is not None
        # The URL of a private feed is itself a secret: show only the host.
        host = urllib.parse.urlparse(self.settings.url).hostname or "?"
        request = urllib.request.Request(
            self.settings.url, headers={"User-Agent": f"followupd/{__version__}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout.total_seconds()) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"calendar server {host} answered HTTP {exc.code}; will retry") from None
            raise BackendError(
                f"calendar server {host} answered HTTP {exc.code} {exc.reason}; check [calendar] url"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientError(f"cannot reach calendar server {host}: {reason}; will retry") from None
