"""The config's JSON schema: generated from the loader's declarations, shipped in the
package, and agreeing with the loader on what is a valid file."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from followupd import config as c
from followupd.config_schema import schema, schema_text, unknown_converters
from followupd.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "followupd" / "data" / "config.example.toml"


def _validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema())
    return jsonschema.Draft202012Validator(schema())


def test_the_shipped_schema_is_the_generated_one() -> None:
    shipped = resources.files("followupd").joinpath("data/config.schema.json").read_text(encoding="utf-8")
    assert shipped == schema_text(), "regenerate: followupd config-schema > followupd/data/config.schema.json"


def test_config_schema_command_prints_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "followupd", "config-schema"], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == schema()


def test_every_converter_is_described() -> None:
    assert unknown_converters() == []


def test_the_example_config_is_valid() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    errors = [e.message for e in _validator().iter_errors(data)]
    assert errors == []
    c.parse(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE)  # and the loader agrees


def test_every_key_the_loader_accepts_is_in_the_schema() -> None:
    props = schema()["properties"]
    for name, cls in c.SECTIONS.items():
        keys = {f.name for f in dataclasses.fields(cls) if "conv" in f.metadata}
        assert keys == set(props[name]["properties"]), name
    for section, kinds in (("calendar", c.CALENDAR_KINDS), ("mailbox", c.MAILBOX_KINDS)):
        variants = {v["properties"]["kind"]["const"]: v for v in props[section]["oneOf"]}
        assert set(variants) == set(kinds)
        for kind, cls in kinds.items():
            keys = {"kind"} | {f.name for f in dataclasses.fields(cls) if "conv" in f.metadata}
            assert keys == set(variants[kind]["properties"]), (section, kind)
    steps = {f.name for f in dataclasses.fields(c.Step) if "conv" in f.metadata}
    assert steps == set(props["steps"]["items"]["properties"])
    loader_sections = {*c.SECTIONS, "calendar", "mailbox", "steps"}
    assert loader_sections == set(props)


BASE = """
[me]
name = "Ada"
email = "ada@example.org"
[calendar]
kind = "ics"
path = "/tmp/x.ics"
[mailbox]
kind = "maildir"
path = "/tmp/Mail"
"""

BAD = {
    "unknown section": "[nope]\nx = 1\n",
    "unknown key": '[window]\nafterr = "24h"\n',
    "bad duration": '[window]\nafter = "a day"\n',
    "bad choice": '[reply]\non_reply = "burn"\n',
    "bad port": "",  # filled below
    "bad weekday": '[window]\nweekdays = ["funday"]\n',
    "bad bool": '[detect]\nrequire_accepted = "yes"\n',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_and_loader_refuse_the_same_mistakes(case: str) -> None:
    text = BASE + BAD[case]
    if case == "bad port":
        text = BASE.replace(
            'kind = "maildir"\npath = "/tmp/Mail"', 'kind = "imap"\nhost = "h"\nusername = "u"\nport = 0'
        )
    assert list(_validator().iter_errors(tomllib.loads(text))), "the schema accepted it"
    with pytest.raises(ConfigError):
        c.parse(text, Path("config.toml"))


def test_schema_accepts_what_the_loader_accepts() -> None:
    text = BASE + '[window]\nafter = "1d 12h"\nweekdays = ["Monday", "TUE"]\nbusiness_hours = "08:30-17:00"\n'
    c.parse(text, Path("config.toml"))
    assert list(_validator().iter_errors(tomllib.loads(text))) == []
