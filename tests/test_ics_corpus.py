"""Real-world ICS files (tests/data/ics/, sources and licences in its README) read by
followupd's ICS source and detector, against an independent reader (ics_reference.py).
Where the two disagree, the file was read and the decision recorded in DECISIONS.json."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from followupd.errors import BackendError

from support.ics_corpus import CORPUS, Entry, by_followupd, by_reference, decisions, entries, read_text, span_of

ENTRIES = entries()
DECIDED = decisions()


def test_the_corpus_is_large_and_varied() -> None:
    files = {p.name for p in CORPUS.glob("*.ics")}
    assert files == {e.file for e in ENTRIES}, "every file is listed in SOURCES.tsv, and only those"
    producers = collections.Counter(e.producer for e in ENTRIES)
    assert len(ENTRIES) >= 150
    for producer in ("Outlook/Exchange", "Google", "Apple", "Thunderbird/Mozilla", "Nextcloud/SabreDAV"):
        assert producers[producer] >= 5, producer
    for producer in ("Zimbra", "Zoom", "Teams"):
        assert producers[producer] >= 1, producer
    assert set(DECIDED) <= files
    readme = (CORPUS / "README.md").read_text("utf-8")
    assert all(e.file in readme for e in ENTRIES), "the README names every file"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.file)
def test_occurrences_match_the_independent_reader(entry: Entry, tmp_path: Path) -> None:
    text = read_text(entry)
    span = span_of(text)
    decided = DECIDED.get(entry.file)
    expected = decided["expected"] if decided else by_reference(text, span)
    began = time.perf_counter()
    if expected == "error":
        with pytest.raises(BackendError):
            by_followupd(text, span, tmp_path)
        return
    found, _ = by_followupd(text, span, tmp_path)
    assert time.perf_counter() - began < 2.0, "a pass stays well under a second or two for any file"
    assert [list(x) for x in found] == [list(x) for x in expected]
