"""The NDIF scale-out path (remote=True). NDIF cannot be reached here, so these tests check what
must hold locally: the parameter reaches the registry, packaged models refuse it, and every code
path that would run the model in this process refuses a remote model with a clear sentence."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from lib import activations as act
from lib import engine
from lib import models, verbalizer
from lib.errors import WorkbookError
from lib.registry import resolve


def test_remote_is_a_registry_parameter_for_hub_ids():
    spec = resolve("meta-llama/Llama-3.1-70B-Instruct", remote=True)
    assert spec.remote and spec.hub_id == "meta-llama/Llama-3.1-70B-Instruct"
    assert not resolve("meta-llama/Llama-3.1-70B-Instruct").remote


def test_packaged_models_refuse_remote():
    with pytest.raises(WorkbookError, match="NDIF serves hub models only"):
        resolve("smollm2-135m", remote=True)


def test_quantized_precisions_refuse_remote():
    with pytest.raises(WorkbookError, match="weights stay on NDIF"):
        models.load_model("meta-llama/Llama-3.1-70B-Instruct", "bnb-nf4", remote=True)


@pytest.fixture()
def as_remote(smol):
    """SmolLM2 marked remote: what a remote model looks like to the local-only code paths."""
    return dataclasses.replace(smol, spec=dataclasses.replace(smol.spec, remote=True))


def test_local_only_paths_refuse_a_remote_model(as_remote):
    prompts = ["The capital of France is"]
    vector = torch.zeros(as_remote.d_model)
    calls = {
        "hooks capture": lambda: act.capture(as_remote, prompts, [1], act.last_tokens(), backend="hooks", progress=False),
        "continuation_nll": lambda: engine.continuation_nll(as_remote, prompts, [[1, 2]], progress=False),
        "next_token_sweep": lambda: engine.next_token_sweep(as_remote, prompts, [engine.add(vector, 1, at="last")], progress=False),
        "verbalize": lambda: verbalizer.verbalize(as_remote, vector[None], 1, 1.0, progress=False),
    }
    for name, call in calls.items():
        with pytest.raises(WorkbookError, match="cannot run a remote \\(NDIF\\) model"):
            call()
        print(name, "refused")


@pytest.fixture()
def traced_remote(smol, monkeypatch):
    """The `remote` argument of every nnsight trace opened, each trace then run locally: the one NDIF would receive."""
    seen = []
    real = type(smol.nn).trace  # `with lm.nn.generate(...)` opens its trace through this method too

    def spy(self, *args, **kwargs):
        seen.append(kwargs.pop("remote", None))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(smol.nn), "trace", spy)
    return seen


def test_remote_generation_goes_through_the_nnsight_trace(smol, as_remote, traced_remote):
    """generate() switches a remote model to the nnsight backend and passes remote=True to the trace."""
    prompts = ["The capital of France is"]
    remote = engine.generate(as_remote, prompts, 4, progress=False)  # default backend: hooks
    local = engine.generate(smol, prompts, 4, backend="nnsight", progress=False)
    assert traced_remote == [True, False]
    assert remote.token_ids == local.token_ids


def test_remote_capture_passes_remote_to_the_trace(smol, as_remote, traced_remote):
    got = act.capture(as_remote, ["The capital of France is"], [2], act.last_tokens(), progress=False)
    want = act.capture(smol, ["The capital of France is"], [2], act.last_tokens(), progress=False)
    assert traced_remote == [True, False]
    assert torch.allclose(got, want)


def test_remote_scoring_goes_through_the_nnsight_trace(smol, as_remote, traced_remote):
    """forward_last (candidate scoring) runs a remote model's edits as an nnsight trace with remote=True."""
    direction = torch.randn(smol.d_model, generator=torch.Generator().manual_seed(0))
    prompts = ["The capital of France is"]
    remote, remote_states = engine.forward_last(as_remote, prompts, engine.ablate(direction), read_layers=[3], progress=False)
    local, local_states = engine.forward_last(smol, prompts, engine.ablate(direction), read_layers=[3], progress=False)  # hooks
    assert traced_remote == [True]
    torch.testing.assert_close(remote, local, atol=1e-4, rtol=0)
    torch.testing.assert_close(remote_states, local_states, atol=1e-4, rtol=1e-5)
