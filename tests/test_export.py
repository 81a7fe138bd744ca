"""llama.cpp control-vector export: written with the gguf package, read back with its reader."""
from __future__ import annotations

import gguf
import numpy as np
import pytest
import torch

from lib import export
from lib.errors import WorkbookError


def test_control_vector_round_trips_every_tensor_and_key(tmp_path, smol):
    torch.manual_seed(0)
    vectors = {3: torch.randn(smol.d_model), 17: 12.5 * torch.randn(smol.d_model)}
    path = export.write_control_vector(tmp_path / "refusal.gguf", vectors, export.model_hint(smol))
    read, meta = export.read_control_vector(path)
    assert meta == {"general.architecture": "controlvector", "controlvector.model_hint": "llama", "controlvector.layer_count": 2}
    assert sorted(read) == [3, 17]
    for layer, vector in vectors.items():
        np.testing.assert_array_equal(read[layer], vector.numpy())
    raw = gguf.GGUFReader(str(path))  # what llama.cpp sees: float32 tensors named direction.<layer>
    assert {(t.name, t.tensor_type.name, tuple(int(n) for n in t.shape)) for t in raw.tensors} == {
        ("direction.3", "F32", (smol.d_model,)), ("direction.17", "F32", (smol.d_model,))}
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_layer_zero_and_mixed_sizes_are_refused(tmp_path):
    with pytest.raises(WorkbookError, match="start at layer 1"):
        export.write_control_vector(tmp_path / "a.gguf", {0: torch.ones(8)}, "llama")
    with pytest.raises(WorkbookError, match="different sizes"):
        export.write_control_vector(tmp_path / "b.gguf", {1: torch.ones(8), 2: torch.ones(9)}, "llama")
    assert not list(tmp_path.iterdir())


def test_reading_a_model_file_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "not_cv.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()
    with pytest.raises(WorkbookError, match="not a control vector"):
        export.read_control_vector(path)
