import pytest

from sameo_core.files import atomic_write, atomic_write_bytes


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second", durable=False)
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["out.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write_bytes(path, b"old")

    def fail(handle):
        handle.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
