"""followupd: drafts interview follow-ups into your mailbox, never sends them."""

__version__ = "0.1.0"
