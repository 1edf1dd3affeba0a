"""An in-process emulator of the Gmail and Google Calendar APIs (and Google's OAuth token
endpoint) for followupd's tests. See server.py."""

from .server import ALL_SCOPES, QUOTA, Emulator

__all__ = ["ALL_SCOPES", "QUOTA", "Emulator"]
