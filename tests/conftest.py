"""Shared fixtures. Tests use the real SmolLM2-135M from the embedded zoo, never a mock."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub is reachable here; fail fast instead of timing out


@pytest.fixture(scope="session")
def smol():
    from lib.models import load_model

    return load_model("smollm2-135m")


@pytest.fixture()
def output_root(tmp_path, monkeypatch):
    """Send everything a test writes to a temporary output root, never to the committed results."""
    monkeypatch.setenv("WORKBOOK_OUTPUT_DIR", str(tmp_path))
    return tmp_path


def pytest_collection_modifyitems(items):
    """Tests that load a model are marked `model` (`make test-unit` leaves them out): every test using the `smol`
    fixture, and the few that load one themselves carry the mark explicitly."""
    for item in items:
        if "smol" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)
