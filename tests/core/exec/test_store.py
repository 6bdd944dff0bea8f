"""The store: atomic publication, stale temp cleanup, declared-output links."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlrecipes.core.errors import StoreError
from mlrecipes.core.store.local import MARKER, EntryRecord, Store


def published(store: Store, step: str = "train", fp: str = "abc", text: str = "m") -> Path:
    tmp = store.begin(step, fp)
    (tmp / "model.txt").write_text(text)
    (tmp / "dir").mkdir()
    (tmp / "dir" / "part").write_text("p")
    record = EntryRecord(step, fp, metrics={"auc": 0.5}, outputs=("model", "dir"))
    return store.publish(tmp, step, fp, record)


def test_publish_makes_complete_entry(store: Store) -> None:
    assert not store.is_complete("train", "abc")
    entry = published(store)
    assert entry == store.entry("train", "abc")
    assert store.is_complete("train", "abc")
    record = store.read_record("train", "abc")
    assert record is not None and record.metrics == {"auc": 0.5}
    assert record.outputs == ("model", "dir")
    assert [p.name for p in entry.parent.iterdir()] == ["abc"]  # no temp, no lock left
    store.set_run_id("train", "abc", "run123")
    record = store.read_record("train", "abc")
    assert record is not None and record.run_id == "run123" and record.metrics == {"auc": 0.5}


def test_temp_entry_is_not_complete_and_discard_cleans(store: Store) -> None:
    tmp = store.begin("train", "abc")
    (tmp / "half").write_text("x")
    assert not store.is_complete("train", "abc")
    assert store.read_record("train", "abc") is None
    store.discard(tmp)
    assert list(tmp.parent.iterdir()) == []


def test_publish_keeps_existing_complete_entry(store: Store) -> None:
    first = published(store, text="first")
    tmp = store.begin("train", "abc")
    (tmp / "model.txt").write_text("second")
    again = store.publish(tmp, "train", "abc", EntryRecord("train", "abc"))
    assert again == first
    assert (first / "model.txt").read_text() == "first"
    assert not tmp.exists()


def test_publish_replaces_incomplete_junk(store: Store) -> None:
    junk = store.entry("train", "abc")
    junk.mkdir(parents=True)
    (junk / "stale").write_text("x")
    entry = published(store)
    assert store.is_complete("train", "abc") and not (entry / "stale").exists()


def test_remove(store: Store) -> None:
    published(store)
    store.remove("train", "abc")
    assert not store.is_complete("train", "abc")
    assert not store.entry("train", "abc").exists()


def test_names_are_checked(store: Store) -> None:
    for step, fp in [("../x", "a"), ("a", "b/c"), (".logs", "a"), ("", "a")]:
        with pytest.raises(ValueError, match="invalid"):
            store.entry(step, fp)


def test_clean_partial_removes_only_dead_writers(store: Store, tmp_path: Path) -> None:
    live = store.begin("train", "live")
    # A temp whose writer died: another process begins one and exits without cleaning.
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from mlrecipes.core.store.local import Store
        tmp = Store(Path({str(store.root)!r})).begin("train", "dead")
        (tmp / "half").write_text("x")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    leftover = next(store.root.glob("train/.tmp-dead-*[!k]"))
    removed = store.clean_partial()
    assert removed == [leftover]
    assert not leftover.exists() and not Path(f"{leftover}.lock").exists()
    assert live.is_dir()
    store.discard(live)
    assert sorted(p.name for p in (store.root / "train").iterdir()) == []


def test_logs_survive_outside_entries(store: Store) -> None:
    log = store.log_path("train", "abc")
    log.write_text("out")
    assert log.parent.name == ".logs" and store.logs("train", "abc") == [log]
    store.clean_partial()
    assert log.exists()


# --- link_output ---


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    return root


def test_link_output_symlink_and_relink(store: Store, ws: Path) -> None:
    entry = published(store, fp="one", text="v1")
    declared = ws / "outputs" / "model.txt"
    assert store.link_output(entry, "model.txt", declared, ws) == declared
    assert declared.is_symlink() and not declared.readlink().is_absolute()
    assert declared.read_text() == "v1"
    entry2 = published(store, fp="two", text="v2")
    store.link_output(entry2, "model.txt", declared, ws)  # replaces our own link
    assert declared.read_text() == "v2"
    assert [p.name for p in declared.parent.iterdir()] == ["model.txt"]  # no temp links


def test_link_output_directory(store: Store, ws: Path) -> None:
    entry = published(store)
    declared = ws / "out" / "parts"
    store.link_output(entry, "dir", declared, ws)
    assert (declared / "part").read_text() == "p"


def test_link_output_refuses_outside_workspace(store: Store, ws: Path, tmp_path: Path) -> None:
    entry = published(store)
    for declared in [tmp_path / "elsewhere.txt", ws / ".." / "escape.txt", ws]:
        with pytest.raises(StoreError, match="outside the workspace"):
            store.link_output(entry, "model.txt", declared, ws)
    assert not (tmp_path / "elsewhere.txt").exists()


def test_link_output_refuses_rel_escaping_entry(store: Store, ws: Path) -> None:
    entry = published(store)
    for rel in ["../other", "/etc/passwd", "."]:
        with pytest.raises(StoreError, match="escapes its store entry"):
            store.link_output(entry, rel, ws / "x", ws)


def test_link_output_never_overwrites_user_data(store: Store, ws: Path, tmp_path: Path) -> None:
    entry = published(store)
    user_file = ws / "model.txt"
    user_file.write_text("precious")
    user_dir = ws / "parts"
    user_dir.mkdir()
    user_link = ws / "link.txt"
    user_link.symlink_to(tmp_path / "somewhere")
    for declared in [user_file, user_dir, user_link]:
        with pytest.raises(StoreError, match="not made by mlrecipes") as info:
            store.link_output(entry, "model.txt", declared, ws)
        assert info.value.hint and "move or delete" in info.value.hint
    assert user_file.read_text() == "precious" and user_dir.is_dir() and user_link.is_symlink()


def test_link_output_copy_fallback(store: Store, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_symlinks(self: Path, target: str | Path, target_is_directory: bool = False) -> None:
        raise OSError("symlinks not supported here")

    entry = published(store, fp="one", text="v1")
    declared = ws / "model.txt"
    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    store.link_output(entry, "model.txt", declared, ws)
    store.link_output(entry, "dir", ws / "parts", ws)
    assert not declared.is_symlink() and declared.read_text() == "v1"
    entry2 = published(store, fp="two", text="v2")
    store.link_output(entry2, "model.txt", declared, ws)  # our copy may be replaced
    store.link_output(entry2, "dir", ws / "parts", ws)
    assert declared.read_text() == "v2" and (ws / "parts" / "part").exists()
    monkeypatch.undo()
    store.link_output(entry2, "model.txt", declared, ws)  # and a link may replace our copy
    assert declared.is_symlink()


def test_marker_name_is_stable() -> None:
    assert MARKER == ".mlrecipes-complete.json"


def test_clean_partial_removes_runner_specs_a_killed_run_left(store: Store) -> None:
    """Issue 25 item 20: a spec (secrets in clear) left by kill -9 goes at the next command."""
    import os
    import time

    from mlrecipes.core.store.local import SPEC_LEFTOVER_AGE

    log = store.log_path("train", "fp")
    old, fresh = log.with_suffix(".spec.json"), log.with_name("other.spec.json")
    for spec in (old, fresh):
        spec.write_text('{"params": {"token": "s3cret"}}')
    past = time.time() - SPEC_LEFTOVER_AGE - 1
    os.utime(old, (past, past))
    store.clean_partial()
    assert not old.exists() and fresh.exists()  # a live run's spec is about to be read
