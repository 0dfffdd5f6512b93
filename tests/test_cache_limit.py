"""The disk cache's size bound: least recently used entries go first, hits refresh an entry,
loads prune after writing, and a bad limit is a typed error."""
import os

import pytest

from simulator import cache_limit
from simulator.bundled import BUNDLED_SBML, models_dir
from simulator.cli import main
from simulator.errors import InvalidValueError
from simulator.io import sbml

MB = 2 ** 20


def _entry(folder, name, size, age):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (1e9 - age, 1e9 - age))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CROSSTALK_CACHE_MAX_MB", raising=False)
    return tmp_path


def test_prune_removes_the_least_recently_used_down_to_a_fraction_of_the_limit(cache):
    old = _entry(cache, "ct_old.o", MB, age=300)
    store = _entry(cache, "symbolic/model_a.pickle", MB, age=200)
    newer = _entry(cache, "ct_new.ll", MB, age=100)
    newest = _entry(cache, "ct_newest.o", MB, age=0)
    scans = _entry(cache, "import_scans.json", 5 * MB, age=1000)   # not an entry
    other = _entry(cache, "notes.txt", MB, age=1000)                # not ours
    assert cache_limit.usage().total == 4 * MB
    assert cache_limit.prune(limit=4 * MB) == (0, 0)                # at the limit: kept
    files, freed = cache_limit.prune(limit=3 * MB)                  # to 0.8 x 3 MB
    assert (files, freed) == (2, 2 * MB)
    assert not old.exists() and not store.exists()
    assert newer.exists() and newest.exists() and scans.exists() and other.exists()


def test_a_hit_keeps_an_old_entry(cache):
    old = _entry(cache, "ct_old.o", MB, age=300)
    young = _entry(cache, "ct_young.o", MB, age=100)
    cache_limit.mark_used(old)
    cache_limit.prune(limit=3 * MB // 2)
    assert old.exists() and not young.exists()


def test_clear_removes_every_entry_and_nothing_else(cache):
    _entry(cache, "ct_a.o", 10, age=0)
    _entry(cache, "symbolic/system_b.pickle", 10, age=0)
    keep = _entry(cache, "import_scans.json", 10, age=0)
    assert cache_limit.clear() == (2, 20)
    assert cache_limit.usage().files == 0 and keep.exists()


@pytest.mark.parametrize("text", ["abc", "-1", "inf", "nan"])
def test_a_bad_limit_is_a_typed_error_naming_the_variable(cache, monkeypatch, text):
    monkeypatch.setenv("CROSSTALK_CACHE_MAX_MB", text)
    with pytest.raises(InvalidValueError, match="CROSSTALK_CACHE_MAX_MB"):
        cache_limit.max_bytes()


def test_a_load_prunes_the_cache_to_its_limit(cache, monkeypatch):
    stale = _entry(cache, "symbolic/model_stale.pickle", 2 * MB, age=1000)
    monkeypatch.setenv("CROSSTALK_CACHE_MAX_MB", "1")
    monkeypatch.setattr(cache_limit, "_last_check", float("-inf"))
    sbml.read_sbml_string((models_dir() / BUNDLED_SBML).read_text())
    assert not stale.exists()                         # the oldest went first
    assert cache_limit.usage().total <= MB


def test_a_hit_in_the_store_refreshes_the_entry(cache):
    text = (models_dir() / BUNDLED_SBML).read_text()
    sbml.read_sbml_string(text)
    (path,) = (cache / "symbolic").glob("model_*.pickle")
    os.utime(path, (1e9, 1e9))
    sbml.read_sbml_string(text)
    assert path.stat().st_mtime > 1e9


def test_cli_reports_prunes_and_clears(cache, capsys):
    _entry(cache, "ct_a.o", MB, age=10)
    _entry(cache, "ct_b.o", MB, age=0)
    assert main(["cache"]) == 0
    assert f"{cache}: 2 files, 2.0 MB of a 1024 MB limit" in capsys.readouterr().out
    os.environ["CROSSTALK_CACHE_MAX_MB"] = "1.5"
    try:
        assert main(["cache", "--prune"]) == 0
    finally:
        del os.environ["CROSSTALK_CACHE_MAX_MB"]
    assert "removed 1 least recently used files (1.0 MB)" in capsys.readouterr().out
    assert main(["cache", "--clear"]) == 0
    assert "removed 1 files" in capsys.readouterr().out
