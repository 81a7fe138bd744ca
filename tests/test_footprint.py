"""Bytes of a model's linear weights at a precision (lib/footprint.py), checked on a real model: every weight once,
and bits per weight as each format stores them (codes plus scales)."""
import pytest
import torch

from lib import footprint, models


@pytest.mark.model
@pytest.mark.parametrize("precision, low, high", [("fp32", 32, 32), ("bnb-int8", 8.0, 8.1), ("bnb-nf4", 4.0, 4.6)])
def test_linear_weight_bytes_count_every_weight_once_with_its_quantization_state(precision, low, high):
    lm = models.load_model("smollm2-135m", precision)
    counted = footprint.linear_weight_bytes(lm.layers)
    linear = [m for m in lm.layers.modules() if isinstance(m, torch.nn.Linear)]
    assert counted["weights"] == sum(m.in_features * m.out_features for m in linear)
    assert counted["bf16_bytes"] == 2 * counted["weights"]
    assert low <= 8 * counted["bytes"] / counted["weights"] <= high  # bits per weight: codes plus scales
