"""The atomic writer on real files in a temporary dir: layout, the ..data swap, modes, stale removal."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from skiff_kubelet.atomic_writer import AtomicWriter, FileProjection, PayloadError


def files(**kv: str) -> dict[str, FileProjection]:
    return {k.replace("__", "/"): FileProjection(v.encode(), 0o644) for k, v in kv.items()}


def test_layout_is_kubernetes(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    payload = {"user": FileProjection(b"admin", 0o400), "sub/app.conf": FileProjection(b"x=1", 0o640)}
    assert AtomicWriter(vol).write(payload)
    data = vol / "..data"
    assert data.is_symlink() and os.readlink(data).startswith("..2")
    assert os.readlink(vol / "user") == "..data/user" and os.readlink(vol / "sub") == "..data/sub"
    assert (vol / "user").read_bytes() == b"admin" and (vol / "sub" / "app.conf").read_text() == "x=1"
    assert stat.S_IMODE((vol / "user").stat().st_mode) == 0o400
    assert stat.S_IMODE((vol / "sub" / "app.conf").stat().st_mode) == 0o640
    version = vol / os.readlink(data)
    assert stat.S_IMODE(version.stat().st_mode) == 0o755 and stat.S_IMODE((version / "sub").stat().st_mode) == 0o755
    assert sorted(p.name for p in vol.iterdir()) == sorted(["..data", version.name, "user", "sub"])


def test_update_flips_the_symlink_and_removes_the_old_version(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    writer = AtomicWriter(vol)
    writer.write(files(a="1", b="1"))
    old = writer.current_dir()
    assert old is not None
    held = (vol / "a").open("rb")  # a reader that opened the file before the update
    seen_during: list[tuple[bytes, bytes]] = []

    def set_perms(new_dir: Path) -> None:
        # Called on the complete new version before the swap: readers still see the old one whole.
        assert (new_dir / "a").read_bytes() == b"2" and (new_dir / "c").read_bytes() == b"2"
        seen_during.append(((vol / "a").read_bytes(), (vol / "b").read_bytes()))

    assert writer.write(files(a="2", c="2"), set_perms=set_perms)
    assert seen_during == [(b"1", b"1")]
    new = writer.current_dir()
    assert new is not None and new != old and not old.exists()
    assert (vol / "a").read_bytes() == b"2" and (vol / "c").read_bytes() == b"2"
    assert not (vol / "b").exists() and not (vol / "b").is_symlink()  # stale key removed
    assert held.read() == b"1"  # the open file keeps its version
    held.close()
    assert sorted(p.name for p in vol.iterdir()) == sorted(["..data", new.name, "a", "c"])


def test_unchanged_payload_writes_nothing(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path / "vol")
    assert writer.write(files(a="1", d__e="2"))
    first = writer.current_dir()
    assert not writer.write(files(a="1", d__e="2"))
    assert writer.current_dir() == first
    assert writer.write(files(a="1", d__e="3"))  # a nested change is a change
    assert writer.current_dir() != first and (tmp_path / "vol" / "d" / "e").read_text() == "3"


def test_files_from_before_the_writer_become_links(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "a").write_text("old")
    (vol / ".a.tmp").write_text("leftover")
    (vol / "nested").mkdir()
    (vol / "nested" / "f").write_text("old")
    AtomicWriter(vol).write(files(a="new", nested__f="new"))
    assert (vol / "a").is_symlink() and (vol / "a").read_text() == "new"
    assert (vol / "nested").is_symlink() and (vol / "nested" / "f").read_text() == "new"
    assert not (vol / ".a.tmp").exists()


def test_empty_payload_empties_the_volume(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    writer = AtomicWriter(vol)
    writer.write(files(a="1"))
    assert writer.write({})
    assert [p.name for p in vol.iterdir() if not p.name.startswith("..")] == []


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/etc/passwd", "must be relative"),
        ("../escape", "must not contain '..'"),
        ("a/../../b", "must not contain '..'"),
        ("..data", "must not start with '..'"),
        ("", "must not be empty"),
    ],
)
def test_bad_paths_are_refused_before_any_write(tmp_path: Path, path: str, error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        AtomicWriter(tmp_path / "vol").write({path: FileProjection(b"x", 0o644)})
    assert not (tmp_path / "vol").exists()


def test_a_file_cannot_also_be_a_dir(tmp_path: Path) -> None:
    with pytest.raises(PayloadError, match="inside the file 'a'"):
        AtomicWriter(tmp_path / "vol").write(files(a="1", a__b="2"))


def test_owner_is_set_on_the_file(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    vol = tmp_path / "vol"
    AtomicWriter(vol).write({"token": FileProjection(b"t", 0o600, owner=1234)})
    st = (vol / "token").stat()
    assert st.st_uid == 1234 and stat.S_IMODE(st.st_mode) == 0o600
