"""The exceptions followupd raises, and the exit codes they map to at the CLI edge."""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes (documented in README "Exit codes"); sysexits-style so that systemd's
# RestartPreventExitStatus can tell a config error from a passing outage.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75
EXIT_NOPERM = 77
EXIT_CONFIG = 78


class FollowupdError(Exception):
    """Base of every error meant to be shown to the user as a message."""

    exit_code = EXIT_ERROR


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    where: str  # a TOML key path ("window.after"), a template name, an event
    message: str
    line: int | None = None

    def __str__(self) -> str:
        at = f"{self.where} (line {self.line})" if self.line else self.where
        return f"{at}: {self.message}" if at else self.message


class ConfigError(FollowupdError):
    """The configuration or a template is invalid; carries every problem found."""

    exit_code = EXIT_CONFIG

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class AuthError(FollowupdError):
    """Credentials are missing, expired or revoked: the user must re-authorise."""

    exit_code = EXIT_NOPERM

    def __init__(self, message: str, *, hint: str) -> None:
        self.hint = hint
        super().__init__(f"{message} (re-authorise: {hint})")


class TransientError(FollowupdError):
    """A server or the network failed in a way that may heal: retry later."""

    exit_code = EXIT_TEMPFAIL


class BackendError(FollowupdError):
    """A calendar or mailbox refused what we asked, or returned data we cannot use."""
