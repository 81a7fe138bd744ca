"""The one atomic writer: a finished write replaces its target, a failed one leaves neither a partial target nor a
temporary file behind (figures, control vectors, the model cache and the joined GGUF file all go through it; the
GGUF case is tested in test_models.py)."""
from __future__ import annotations

import pytest

from lib import artifacts


def test_a_finished_write_replaces_the_target_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out" / "table.csv"
    artifacts.atomic_write_text(target, "old")
    with artifacts.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".table.csv.")
        tmp.write_text("new")
        assert target.read_text() == "old"  # readers see the old file until the write is complete
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]


def test_a_failed_write_keeps_the_old_target_and_deletes_its_temporary_file(tmp_path):
    target = tmp_path / "figure.png"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("half a figure")
            raise RuntimeError("the writer crashed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["figure.png"]
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(tmp_path / "cache-folder", folder=True) as staging:
            (staging / "model.safetensors").write_text("partial weights")
            raise RuntimeError("killed while saving")
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]
