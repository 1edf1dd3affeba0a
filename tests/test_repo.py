"""The repository keeps its promises: README ↔ .ci/run, config example ↔ config code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from followupd import config as config_module

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci/run").read_text()
    command = ci.strip().splitlines()[-1]
    assert "pytest" in command
    assert command in readme


def test_example_config_is_valid_and_documents_every_key() -> None:
    path = REPO / "config.example.toml"
    text = path.read_text()
    config_module.parse(text, path)
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.MULTILINE))
    sections = [
        config_module.Me,
        config_module.Detect,
        config_module.Window,
        config_module.Step,
        config_module.Reply,
        config_module.StateSettings,
        config_module.Google,
        config_module.Secrets,
        config_module.DaemonSettings,
        config_module.Notify,
        *config_module.CALENDAR_KINDS.values(),
        *config_module.MAILBOX_KINDS.values(),
    ]
    keys = {f.name for cls in sections for f in dataclasses.fields(cls) if "conv" in f.metadata}
    assert keys - documented == set()


def test_example_config_is_what_init_writes() -> None:
    assert (REPO / "config.example.toml").resolve() == (REPO / "followupd/data/config.example.toml").resolve()
