"""Read `config.toml` into the settings; report every problem at once.

Each table is checked against its dataclass in settings.py, each value read with its
field's converter; unknown sections and keys are problems too, so a typo never
silently falls back to a default. `[[steps]]` are resolved here into `ResolvedStep`s.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from followupd.config.settings import (
    CALENDAR_KINDS,
    MAILBOX_KINDS,
    SECTIONS,
    Config,
    IcsSettings,
    ImapSettings,
    ResolvedStep,
    Step,
    Window,
    xdg_dir,
)
from followupd.errors import ConfigError, Problem
from followupd.urls import loopback


def default_config_path() -> Path:
    return xdg_dir("XDG_CONFIG_HOME", ".config") / "followupd" / "config.toml"


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config PATH`, then `$FOLLOWUPD_CONFIG`, then the XDG config file."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("FOLLOWUPD_CONFIG")
    return Path(env).expanduser() if env else default_config_path()


def load(path: Path) -> Config:
    """Read and validate the config file; raise ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path),
            [Problem("", "no such file; create one with `followupd init` or pass --config PATH")],
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [Problem("", f"cannot read it: {exc}")]) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [Problem("", f"not valid TOML: {exc}")]) from None
    reader = _Reader(_key_lines(text))
    config = reader.config(data, path)
    if reader.problems:
        raise ConfigError(str(path), sorted(reader.problems, key=lambda p: p.line or 1 << 30))
    assert config is not None
    return config


class _Reader:
    def __init__(self, lines: Mapping[str, int]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, self.lines.get(where)))

    def section(self, cls: type, data: Any, where: str, skip: tuple[str, ...] = ()) -> Any:
        if data is None:
            self.problem(where, f"missing table [{where}]")
            return None
        if not isinstance(data, dict):
            self.problem(where, f"expected a table [{where}], got {data!r}")
            return None
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key in skip:
                continue
            spec = fields.get(key)
            if spec is None or "conv" not in spec.metadata:
                known = ", ".join(sorted(k for k, f in fields.items() if "conv" in f.metadata))
                self.problem(f"{where}.{key}", f"unknown key; known keys here: {known or 'none'}")
                continue
            try:
                values[key] = spec.metadata["conv"](raw)
            except ValueError as exc:
                self.problem(f"{where}.{key}", str(exc))
        missing = [
            name
            for name, f in fields.items()
            if "conv" in f.metadata
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and name not in data
        ]
        for name in missing:
            self.problem(f"{where}.{name}", "required key is missing")
        if missing or any(p.where.startswith(f"{where}.") for p in self.problems):
            return None
        return cls(**values)

    def kinded(self, kinds: dict[str, type], data: Any, where: str) -> Any:
        if not isinstance(data, dict):
            self.problem(where, f"missing table [{where}]; it needs at least kind = …")
            return None
        kind = data.get("kind")
        if kind not in kinds:
            given = "required key is missing; set it to one" if kind is None else f"{kind!r} is not one"
            self.problem(f"{where}.kind", f"{given} of: {', '.join(kinds)}")
            return None
        return self.section(kinds[kind], data, where, skip=("kind",))

    def config(self, data: dict[str, Any], path: Path) -> Config | None:
        known = {*SECTIONS, "calendar", "mailbox", "steps"}
        for key in data:
            if key not in known:
                self.problem(key, f"unknown section; known sections: {', '.join(sorted(known))}")
        parts: dict[str, Any] = {}
        for name, cls in SECTIONS.items():
            if name in data or name == "me":
                parts[name] = self.section(cls, data.get(name), name)
        parts["calendar"] = self.kinded(CALENDAR_KINDS, data.get("calendar"), "calendar")
        parts["mailbox"] = self.kinded(MAILBOX_KINDS, data.get("mailbox"), "mailbox")
        calendar, mailbox = parts["calendar"], parts["mailbox"]
        if isinstance(calendar, IcsSettings) and (calendar.path is None) == (calendar.url is None):
            self.problem("calendar", "an ICS calendar needs exactly one of path = … or url = …")
        if isinstance(mailbox, ImapSettings) and mailbox.security == "none" and not loopback(mailbox.host):
            self.problem(
                "mailbox.security",
                f'"none" sends your password in clear text; it is only allowed for a loopback '
                f'host, not {mailbox.host!r}: use "tls" or "starttls"',
            )
        window = parts.get("window") or Window()
        if window.before <= window.after:
            self.problem("window.before", "must be later than window.after")
        steps = self.steps(data.get("steps"), window)
        if self.problems:
            return None
        parts = {k: v for k, v in parts.items() if v is not None}
        return Config(path=path, steps=steps, **parts)

    def steps(self, data: Any, window: Window) -> tuple[ResolvedStep, ...]:
        if data is None:
            return (
                ResolvedStep("thank-you", "thank-you.txt.j2", window.after, window.before),
                ResolvedStep("check-in", "check-in.txt.j2", timedelta(days=7), timedelta(days=9)),
            )
        if not isinstance(data, list) or not data:
            self.problem("steps", "expected one or more [[steps]] tables")
            return ()
        resolved: list[ResolvedStep] = []
        for index, item in enumerate(data):
            where = f"steps[{index}]"
            step = self.section(Step, item, where)
            if step is None:
                continue
            if step.name in {s.name for s in resolved}:
                self.problem(f"{where}.name", f"step {step.name!r} is listed twice")
                continue
            # No "/" either: it separates a step from its person in a follow-up's key.
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", step.name):
                self.problem(
                    f"{where}.name", f"{step.name!r}: use lower-case letters, digits and dashes, e.g. 'thank-you'"
                )
                continue
            first = index == 0
            after = step.after if step.after is not None else (window.after if first else None)
            before = step.before if step.before is not None else (window.before if first else None)
            if after is None:
                self.problem(f"{where}.after", "a later step needs after = … (time after the previous step was sent)")
                continue
            if before is None:
                before = after + timedelta(days=2)
            if before <= after:
                self.problem(f"{where}.before", "must be later than after")
                continue
            resolved.append(ResolvedStep(step.name, step.template_name, after, before, step.per_person))
        return tuple(resolved)


def _key_lines(text: str) -> dict[str, int]:
    """Map "section.key" (and "steps[i].key") to the line that sets it, for messages."""
    lines: dict[str, int] = {}
    table = ""
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if match := re.match(r"^\[\[\s*([\w.-]+)\s*\]\]", stripped):
            name = match.group(1)
            counts[name] = counts.get(name, -1) + 1
            table = f"{name}[{counts[name]}]"
            lines.setdefault(table, number)
        elif match := re.match(r"^\[\s*([\w.-]+)\s*\]", stripped):
            table = match.group(1)
            lines.setdefault(table, number)
        elif match := re.match(r"^([\w-]+)\s*=", stripped):
            key = f"{table}.{match.group(1)}" if table else match.group(1)
            lines.setdefault(key, number)
    return lines
