"""An offline tiny model: a real Qwen2 architecture with random weights and a locally trained tokenizer.

Nothing here touches the Hugging Face hub, so tests, CI and CPU demos run anywhere. The model is
:class:`transformers.Qwen2ForCausalLM` (the architecture of Qwen2.5, which the GSM8K presets
fine-tune on a GPU), shrunk to about 3.3 M parameters: hidden size 256, 4 layers, 4 attention
heads with 2 key/value heads (grouped-query attention, as in Qwen2.5), tied embeddings.

The tokenizer is a byte-level BPE trained with Hugging Face ``tokenizers`` on a small built-in
corpus of English and arithmetic word-problem text. Every digit is its own token, so numbers are
spelled digit by digit and arithmetic stays learnable for a tiny model. It carries a ChatML chat
template (``<|im_start|>role ... <|im_end|>``) like Qwen's, so chat-formatted prompts, such as the
GSM8K ones, work with TRL unchanged.

Both are built deterministically (fixed corpus, fixed seed) and cached in a folder, by default
``$SRGRPO_CACHE/tiny-qwen2`` or ``<repo>/.cache/tiny-qwen2`` (git-ignored), so they are built once.

Load the tokenizer with :class:`transformers.PreTrainedTokenizerFast` (as :func:`load_tiny` does):
``AutoTokenizer`` maps the Qwen2 config to ``Qwen2Tokenizer`` with another pre-tokenizer, and the
ids silently change. Always pass it to trainers as ``processing_class``.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from srgrpo.plumbing.runtime import atomic_folder, cache_root

__all__ = [
    "TINY_MODEL_NAME",
    "TINY_CONFIG",
    "CHAT_TEMPLATE",
    "tiny_corpus",
    "build_tiny_tokenizer",
    "build_tiny_model",
    "tiny_model_dir",
    "load_tiny",
    "load_tiny_tokenizer",
]

#: The name ``srgrpo.models.loading.load_policy`` and the presets use for this model.
TINY_MODEL_NAME = "tiny"

#: Qwen2 hyper-parameters of the tiny model (vocab_size comes from the tokenizer).
TINY_CONFIG = dict(
    hidden_size=256,
    intermediate_size=768,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
    rope_theta=10000.0,
    tie_word_embeddings=True,
)

VOCAB_SIZE = 1024
SEED = 0
# Bumped whenever the corpus, tokenizer or model recipe changes, so stale caches are rebuilt.
RECIPE_VERSION = 1

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

#: ChatML, as Qwen uses it; ``add_generation_prompt`` opens an assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_NAMES = ["Ava", "Ben", "Chen", "Dina", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena",
          "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara"]
_ITEMS = ["apples", "books", "cookies", "marbles", "pencils", "stickers", "shells", "cards", "eggs", "coins",
          "flowers", "boxes", "candles", "stamps", "toys"]
_VERBS = ["buys", "finds", "gets", "gives away", "loses", "sells", "eats", "collects", "bakes", "picks"]
_PROSE = (
    "Solve the problem step by step. Show your reasoning, then write the final answer on the last line "
    "as #### followed by the number only, with no units. The answer is a number. First we compute the "
    "total, then we subtract what was used. Each day she works for hours and earns dollars per hour. "
    "How many are left? How much money does he have now? What is the total cost in dollars? "
    "Let us think about it carefully. So the answer is the result of the last step. "
    "A store sells each item for a price, and the price is in dollars and cents. Half of them are red. "
    "There are twice as many as before, and three times as many after a week. The question asks for the sum."
)


def tiny_corpus(n_lines: int = 3000, seed: int = SEED) -> list[str]:
    """The deterministic text the tokenizer is trained on: prose plus templated word problems."""
    rng = random.Random(seed)
    lines = _PROSE.split(". ")
    for _ in range(n_lines):
        name, item, verb = rng.choice(_NAMES), rng.choice(_ITEMS), rng.choice(_VERBS)
        a, b = rng.randint(0, 999), rng.randint(0, 99)
        op = rng.choice(["+", "-", "*", "/"])
        lines.append(
            f"Q: {name} has {a} {item} and {verb} {b} more. How many {item} does {name} have? "
            f"A: {name} has {a} {op} {b} = {rng.randint(0, 9999)} {item}.\n#### {rng.randint(-99, 9999)}"
        )
    return lines


def build_tiny_tokenizer(corpus: list[str] | None = None, vocab_size: int = VOCAB_SIZE):
    """Train the byte-level BPE and wrap it as a ``PreTrainedTokenizerFast`` with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Digits first, one token each, then byte-level splitting: any text encodes, numbers stay digit-wise.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus if corpus is not None else tiny_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        padding_side="left",
        truncation_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(tokenizer, seed: int = SEED, **overrides):
    """A randomly initialised ``Qwen2ForCausalLM`` sized by :data:`TINY_CONFIG` (plus ``overrides``)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    params = {**TINY_CONFIG, **overrides}
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **params,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def tiny_model_dir(cache_dir: str | os.PathLike | None = None, rebuild: bool = False) -> Path:
    """Build the tiny model and tokenizer once and return the folder holding them.

    The folder is written to a temporary sibling and renamed into place, so an interrupted build
    never leaves a half-written model behind, and concurrent builders (test workers) do not clash.
    """
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    target = root / "tiny-qwen2"
    stamp = target / "srgrpo_recipe.json"
    if not rebuild and stamp.is_file() and json.loads(stamp.read_text()).get("recipe") == RECIPE_VERSION:
        return target
    with atomic_folder(target, done=stamp.name) as tmp:
        tokenizer = build_tiny_tokenizer()
        model = build_tiny_model(tokenizer)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / stamp.name).write_text(
            json.dumps({"recipe": RECIPE_VERSION, "seed": SEED, "vocab_size": len(tokenizer), **TINY_CONFIG})
        )
    return target


def load_tiny_tokenizer(path: str | os.PathLike | None = None):
    """Load the tiny tokenizer (built on first use) as ``PreTrainedTokenizerFast``, left-padded."""
    from transformers import PreTrainedTokenizerFast

    folder = Path(path) if path is not None else tiny_model_dir()
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    tok.padding_side = "left"
    return tok


def load_tiny(path: str | os.PathLike | None = None, dtype=None):
    """Return ``(model, tokenizer)`` of the tiny model, building them on first use."""
    import torch
    from transformers import Qwen2ForCausalLM

    folder = Path(path) if path is not None else tiny_model_dir()
    model = Qwen2ForCausalLM.from_pretrained(folder, dtype=dtype or torch.float32)
    return model, load_tiny_tokenizer(folder)
