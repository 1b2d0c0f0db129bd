"""layers.atomic: a failed write leaves the old file and no temporary behind."""

import pytest

from layers.atomic import atomic_file, atomic_path, write_atomic


def test_write_atomic_text_and_bytes_create_folders(tmp_path):
    p = write_atomic(tmp_path / "a" / "b.txt", "生活圈")
    assert p.read_text(encoding="utf-8") == "生活圈"
    write_atomic(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert sorted(x.name for x in p.parent.iterdir()) == ["b.txt"]


def test_failed_write_keeps_old_content_and_removes_temporary(tmp_path):
    p = tmp_path / "out.gpkg"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(p) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        assert tmp.suffix == ".gpkg" and not tmp.exists()
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["out.gpkg"]


def test_atomic_file_rejects_append_mode(tmp_path):
    with pytest.raises(ValueError, match="mode='a'"), atomic_file(tmp_path / "x", "a"):
        pass
