"""Read activations back as text: seed 002's NLA injection protocol and Patchscopes identity decoding.

NLA (natural-language autoencoder) verbalizer: a source activation (the output of layer L at the
last real token of a prompt, first forward pass only) replaces the input embedding of a placeholder
token inside a fixed researcher instruction, and the model, ideally one trained for it (a LoRA
adapter), describes it. The activation is *normalized to* a target L2 norm, never multiplied by it.
Target norms are in the units the first decoder layer receives: Gemma multiplies its embeddings by
sqrt(d_model) inside the embedding module, so the injected vector replaces that scaled output.

Patchscopes identity decoding: the hidden state of a word at source layer l overwrites the last
position of "cat -> cat\\n1135 -> 1135\\nhello -> hello\\n?" at target layer k; the model should
continue with " -> <word>" for as long as the word's identity is readable from its state. Patchscopes' own
readout, next-token Precision@1, patches a state from a random position of a varied text into the same prompt and
compares the patched prompt's top-1 next token with the source model's own (`patchscope_precision_at_1`).

    char, token_id = placeholder_token(lm.tokenizer)
    texts = verbalize(lm, vectors, layer=9, target_norm=40.0).texts
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from . import activations as act
from . import engine
from .engine.backends import output_tensor
from .errors import WorkbookError

# Rare single characters, the seed's first: U+320E, one token (id 149705) in Qwen's tokenizer.
PLACEHOLDER_CANDIDATES = ("\u320e", "\u327f", "\u237c", "\u232c", "\u2608", "\u2645", "\u00a7")
NLA_INSTRUCTION = (
    "You are a meticulous AI researcher conducting an important investigation "
    "into activation vectors from a language model. Your overall task is to "
    "describe the semantic content of that activation vector.\n\n"
    "We will pass the vector enclosed in <concept> tags into your context, "
    "along with the network depth where it was extracted. "
    "You must then produce an explanation for the vector, enclosed within "
    "<explanation> tags. The explanation consists of 2-3 text snippets "
    "describing that vector.\n\n"
    "Here is the vector from depth {depth}% of the network:\n\n"
    "<concept>{placeholder}</concept>\n\n"
    "Please provide an explanation.\n\n"
    "<explanation>"
)
END_OF_EXPLANATION = "</explanation>"
IDENTITY_PROMPT = "cat -> cat\n1135 -> 1135\nhello -> hello\n?"
# The word is read at the end of a short line, never as the first token: the first position of a
# prompt is the attention sink, whose state past the first layers carries no token identity.
SOURCE_CONTEXT = "Here is a word:\n"
MODES = ("normalize", "multiply")


def depth_percent(layer: int, n_layers: int) -> int:
    """The depth the seed's prompt states: round(100 (L + 0.5) / n_layers)."""
    return round(100 * (layer + 0.5) / n_layers)


def placeholder_token(tokenizer, candidates=PLACEHOLDER_CANDIDATES) -> tuple[str, int]:
    """The first candidate character that encodes to exactly one token and decodes back to itself."""
    for char in candidates:
        ids = tokenizer.encode(char, add_special_tokens=False)
        if len(ids) == 1 and tokenizer.decode(ids) == char:
            return char, ids[0]
    raise WorkbookError(
        f"None of the placeholder characters {' '.join(candidates)} is a single token that decodes back to itself "
        f"in the {type(tokenizer).__name__} tokenizer: pass `candidates` with a character that is."
    )


def rescale(vectors: torch.Tensor, target_norm: float, mode: str = "normalize") -> torch.Tensor:
    """Rows normalized TO `target_norm` (the protocol) or multiplied BY it (the common mistake)."""
    if mode not in MODES:
        raise WorkbookError(f"Unknown injection mode {mode!r}: use 'normalize' (the protocol) or 'multiply'.")
    vectors = vectors.float()
    if mode == "multiply":
        return vectors * target_norm
    return vectors * (target_norm / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def nla_prompt_text(lm, source_layer: int, source_n_layers: int) -> str:
    """The researcher instruction with the depth and the placeholder character filled in."""
    return NLA_INSTRUCTION.format(depth=depth_percent(source_layer, source_n_layers), placeholder=placeholder_token(lm.tokenizer)[0])


def nla_prompt_ids(lm, source_layer: int, source_n_layers: int, placeholder: tuple[str, int] | None = None) -> tuple[list[int], int]:
    """Token ids of the researcher instruction (BOS added as the tokenizer does) and the placeholder's position."""
    char, token_id = placeholder or placeholder_token(lm.tokenizer)
    text = NLA_INSTRUCTION.format(depth=depth_percent(source_layer, source_n_layers), placeholder=char)
    ids = lm.tokenizer(text, add_special_tokens=True).input_ids
    positions = [i for i, t in enumerate(ids) if t == token_id]
    if len(positions) != 1:  # the character can merge with its neighbours inside the prompt
        raise WorkbookError(
            f"The placeholder {char!r} (token {token_id}) occurs {len(positions)} times in the tokenized instruction, "
            f"not once: pass another placeholder character."
        )
    return ids, positions[0]


@dataclass
class Verbalization:
    texts: list[str]  # decoded new tokens, cut at </explanation>
    token_ids: list[list[int]]  # new token ids up to the cut (for cross-entropy)
    injected_norms: list[float]
    mean_entropy: list[float]  # mean next-token entropy (nats) over the kept tokens; NaN when none


@torch.no_grad()
def verbalize(
    lm,
    vectors: torch.Tensor,
    source_layer: int,
    target_norm: float,
    mode: str = "normalize",
    source_n_layers: int | None = None,
    max_new_tokens: int = 60,
    batch_size: int = 16,
    progress: bool = True,
) -> Verbalization:
    """Greedy descriptions of each row of `vectors` [n, d] injected at the placeholder of the NLA prompt.

    The prompt is the same for every row, so batches need no padding; the attention mask is passed
    explicitly (pad and EOS tokens coincide in several tokenizers).
    """
    _check_rows(lm, vectors)
    return verbalize_injected(lm, rescale(vectors, target_norm, mode), source_layer, source_n_layers, max_new_tokens,
                              batch_size, progress)


def _check_rows(lm, vectors: torch.Tensor) -> None:
    if vectors.ndim != 2 or vectors.shape[-1] != lm.d_model:
        raise WorkbookError(
            f"Vectors to verbalize must be [n, {lm.d_model}] for {lm.key}, got {list(vectors.shape)}: "
            f"stack one activation of this model per row."
        )


@torch.no_grad()
def verbalize_injected(lm, injected: torch.Tensor, source_layer: int, source_n_layers: int | None = None,
                       max_new_tokens: int = 60, batch_size: int = 16, progress: bool = True) -> Verbalization:
    """`verbalize` for rows already at the norm they are injected with (`rescale`d): rows of different targets and
    modes then share one batched generation (CPU throughput grows with the batch up to about 128 rows)."""
    _check_rows(lm, injected)
    lm.require_local("verbalize (an input-embedding replacement hook)")
    n_layers = source_n_layers or lm.n_layers
    _, pos = nla_prompt_ids(lm, source_layer, n_layers)
    text = nla_prompt_text(lm, source_layer, n_layers)
    # the placeholder's input embedding replaced on the prompt pass (Gemma's embedding output is already scaled)
    rows = [engine.replace(vector, None, at=(pos,), site="embed") for vector in injected]
    gen = engine.generate(lm, [text] * len(rows), max_new_tokens, rows, batch_size=batch_size, progress=progress, record_entropy=True)
    texts, token_ids, entropies = [], [], []
    for row, full_text, step_entropy in zip(gen.token_ids, gen.texts, gen.entropies):
        cut = full_text.split(END_OF_EXPLANATION)[0]
        if cut != full_text:  # keep the ids that produced the kept text (for cross-entropy)
            row = _ids_for_prefix(lm, row, cut)
        texts.append(cut.strip())
        token_ids.append(row)
        entropies.append(float(sum(step_entropy[: len(row)]) / len(row)) if row else float("nan"))
    return Verbalization(texts, token_ids, injected.norm(dim=-1).tolist(), entropies)


def _ids_for_prefix(lm, ids: list[int], prefix: str) -> list[int]:
    """The shortest leading run of `ids` whose decoding covers `prefix`."""
    for n in range(len(ids) + 1):
        if len(lm.tokenizer.decode(ids[:n], skip_special_tokens=True)) >= len(prefix):
            return ids[:n]
    return ids


# ---- Patchscopes identity decoding ---------------------------------------------------------------


def single_token_words(tokenizer, words: list[str]) -> list[str]:
    """The words that are exactly one token at the end of the source prompt (SOURCE_CONTEXT + word)."""
    context = len(tokenizer.encode(SOURCE_CONTEXT, add_special_tokens=False))
    kept = []
    for word in words:
        ids = tokenizer.encode(SOURCE_CONTEXT + word, add_special_tokens=False)
        if len(ids) == context + 1 and len(tokenizer.encode(word, add_special_tokens=False)) == 1:
            kept.append(word)
    return kept


def decoded_word(continuation: str) -> str:
    """What the model wrote for the patched word: the text after "->", up to the end of the line."""
    text = continuation.split("->", 1)[1] if "->" in continuation else continuation
    return text.strip().split("\n")[0].strip()


@torch.no_grad()
def patchscope_identity(
    lm,
    words: list[str],
    source_layers: list[int],
    target_layer: int | None = None,
    max_new_tokens: int = 4,
    batch_size: int = 64,
    progress: bool = True,
) -> list[dict]:
    """For each word and source layer l: its last-token state at l replaces the last position of the
    identity prompt at layer `target_layer` (default: l itself); one record per (word, l) with the
    continuation, the decoded word and whether it is the word.

    The replacement is the engine's "replace" edit at the last prompt position of block k's output.
    """
    source_layers = lm.check_layers(source_layers)
    target_of = {l: l if target_layer is None else lm.check_layers([target_layer])[0] for l in source_layers}
    layers = sorted(set(source_layers))
    sources = [SOURCE_CONTEXT + word for word in words]
    source = act.capture(lm, sources, layers, act.last_tokens(1), batch_size=batch_size, progress=progress)[:, :, 0]  # [w, layers, d]
    index = {layer: i for i, layer in enumerate(layers)}
    cases, rows = [], []
    for w, word in enumerate(words):
        for layer, k in target_of.items():
            cases.append((word, layer, k))
            rows.append(engine.replace(source[w, index[layer]], k, at="last"))
    gen = engine.generate(lm, [IDENTITY_PROMPT] * len(rows), max_new_tokens, rows, batch_size=batch_size, progress=progress)
    records = []
    for (word, layer, k), text in zip(cases, gen.texts):
        got = decoded_word(text)
        records.append({"word": word, "source_layer": layer, "target_layer": k, "continuation": text,
                        "decoded": got, "correct": got.split(" ")[0] == word})
    return records


# ---- Patchscopes' own readout: next-token Precision@1 (PAIR-code/interpretability, next_token_prediction) ----


@torch.no_grad()
def source_predictions(lm, texts: list[str], layers: list[int], seed: int = 0) -> list[dict]:
    """For each text, a random position (seeded; from 0 to the second-to-last token, as theirs) with the model's
    own top-1 next token there and its block-output states at `layers`: the sources of Precision@1."""
    import numpy as np

    lm.require_local("Patchscopes' source pass")
    rng = np.random.default_rng(seed)
    sources = []
    for text in texts:
        ids = lm.tokenizer(text, return_tensors="pt").input_ids
        if ids.shape[1] < 2:
            raise WorkbookError(f"Source text {text!r} has fewer than two tokens: Precision@1 needs a next token to predict.")
        position = int(rng.integers(0, ids.shape[1] - 1))  # randint(0, len - 2) inclusive
        states = {}
        # block outputs read by hooks: transformers' last hidden state has the final norm applied, a block's output not
        hooks = [lm.layers[layer].register_forward_hook(
            lambda module, inputs, output, layer=layer: states.__setitem__(layer, output_tensor(output)[0, position].float()))
            for layer in layers]
        try:
            logits = lm.hf(input_ids=ids).logits
        finally:
            for hook in hooks:
                hook.remove()
        sources.append({"text": text, "position": position, "top1": int(logits[0, position].argmax()), "states": states})
    return sources


def patchscope_precision_at_1(lm, texts: list[str], layers: list[int], seed: int = 0, batch_size: int = 64,
                              progress: bool = True) -> list[dict]:
    """Patchscopes' next-token Precision@1 with the identity prompt: the source state at layer l (a random position
    of a varied text) replaces the state at the last position ("?") of the identity prompt at the same layer l, and
    the patched prompt's top-1 next token is compared with the source model's own top-1 at the source position.

    One record per (text, layer): `hit` (Precision@1), and two controls on the same sources: `unpatched_hit` (the
    identity prompt left alone: the rate a readout that ignores the source gets) and `self_patch_same` (the
    identity prompt's own state patched into itself must leave its prediction unchanged: the patch is exact)."""
    layers = lm.check_layers(layers)
    sources = source_predictions(lm, texts, layers, seed)
    base_logprobs, own_states = engine.forward_last(lm, [IDENTITY_PROMPT], None, layers, progress=False)
    unpatched_top1 = int(base_logprobs[0].argmax())
    rows, cases = [], []
    for s in sources:
        for layer in layers:
            rows.append(engine.replace(s["states"][layer], layer, at="last"))
            cases.append((s, layer))
    self_rows = [engine.replace(own_states[0, i], layer, at="last") for i, layer in enumerate(layers)]
    # every row is the same prompt with a last-token edit: its prefix runs once, each condition one token
    sweep = engine.next_token_sweep(lm, [IDENTITY_PROMPT], rows + self_rows, batch_size=1, max_rows=batch_size, progress=progress)
    patched_top1 = sweep.top_ids[:, 0].tolist()
    self_same = {layer: patched_top1[len(rows) + i] == unpatched_top1 for i, layer in enumerate(layers)}
    return [{"text": s["text"], "position": s["position"], "source_layer": layer, "source_top1": s["top1"],
             "patched_top1": top1, "hit": top1 == s["top1"], "unpatched_hit": unpatched_top1 == s["top1"],
             "self_patch_same": self_same[layer]}
            for (s, layer), top1 in zip(cases, patched_top1[: len(rows)])]


# ---- a trained verbalizer: a PEFT LoRA adapter on the same model --------------------------------

ADAPTER_NAME = "verbalizer"


def attach_adapter(lm, adapter: str) -> None:
    """Load a PEFT LoRA adapter (a folder or a hub id) into `lm` in place and enable it.

    transformers' PEFT integration keeps the module tree, so hooks, nnsight and `lm.layers` work as
    before; `adapter_disabled` switches it off, e.g. to read source activations from the base model.
    """
    import importlib.util

    if importlib.util.find_spec("peft") is None:
        raise WorkbookError("Loading an adapter needs the peft package, which is not installed: run `make setup`.")
    try:
        lm.hf.load_adapter(adapter, adapter_name=ADAPTER_NAME)
    except (OSError, ValueError) as error:
        raise WorkbookError(f"Cannot load the adapter {adapter!r} ({error}): pass a folder with adapter_config.json or a hub id.") from error
    lm.hf.set_adapter(ADAPTER_NAME)


def has_adapter(lm) -> bool:
    return bool(getattr(lm.hf, "_hf_peft_config_loaded", False))


@contextmanager
def adapter_disabled(lm):
    """The base model inside the block (a no-op when no adapter is attached)."""
    if not has_adapter(lm):
        yield
        return
    lm.hf.disable_adapters()
    try:
        yield
    finally:
        lm.hf.enable_adapters()


def source_activations(lm, prompts: list[str], layer: int, batch_size: int = 16) -> torch.Tensor:
    """[n, d] layer-`layer` outputs at each prompt's last real token, one forward pass, adapter off."""
    with adapter_disabled(lm):
        return act.capture(lm, prompts, [layer], act.last_tokens(1), batch_size=batch_size, progress=False)[:, 0, 0]
