"""Step time of SRGRPOTrainer against TRL's GRPOTrainer: same tiny model, same config, alternating.

    python benchmarks/bench_trainer_step.py [--rounds 6] [--max_steps 5] [--threads 1] [--soft_advantage per_sample]

Each round trains a fresh copy of the offline tiny model for ``--max_steps`` steps with each trainer
(the order flips every round, so drift in machine load hits both alike) and collects TRL's own
``step_time`` from ``log_history``, dropping each run's first step (warm-up). Prints the median
step time of each and their ratio, SR over GRPO.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: This script's own renamed flag (the kit's are srgrpo.plumbing.flags.RENAMED): SRGRPOConfig's name for it.
RENAMED = {"--mode": "--soft_advantage"}


@dataclass
class Settings:
    """``python benchmarks/bench_trainer_step.py --help`` lists these."""

    rounds: int = field(default=6, metadata={"help": "rounds; each trains both trainers, the order flipping"})
    max_steps: int = field(default=5, metadata={"help": "steps a run (the first is dropped as warm-up)"})
    threads: int = field(default=1, metadata={"help": "torch threads"})
    soft_advantage: str = field(default="per_sample", metadata={
        "help": "SRGRPOTrainer's soft advantage (SRGRPOConfig.soft_advantage)", "choices": ["shared", "per_sample"]})


def parse_settings(argv: list[str] | None = None) -> Settings:
    """The command line (HfArgumentParser; a renamed flag, such as the old ``--mode``, fails naming its new name)."""
    from transformers import HfArgumentParser

    from srgrpo.plumbing.flags import parse_flags

    parser = HfArgumentParser(Settings, prog="python benchmarks/bench_trainer_step.py", allow_abbrev=False,
                              description=__doc__.splitlines()[0])
    return parse_flags(parser, sys.argv[1:] if argv is None else argv, RENAMED)[0]


def main() -> None:
    a = parse_settings()

    import torch
    from datasets import Dataset
    from transformers.utils import logging as hf_logging
    from trl import GRPOConfig, GRPOTrainer

    from srgrpo import SRGRPOConfig, SRGRPOTrainer
    from srgrpo.models.tiny import load_tiny

    torch.set_num_threads(a.threads)
    warnings.filterwarnings("ignore")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("srgrpo").setLevel(logging.ERROR)

    base_model, tok = load_tiny()
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": f"What is {i} plus {i + 7}?"}]} for i in range(64)])

    def reward(completions, **kw):
        return [float(len(c[0]["content"]) % 5) for c in completions]

    common = dict(per_device_train_batch_size=16, num_generations=4, max_completion_length=24, max_steps=a.max_steps,
                  logging_steps=1, learning_rate=1e-5, beta=0.0, report_to="none", use_cpu=True, bf16=False,
                  gradient_checkpointing=False, save_strategy="no", disable_tqdm=True, seed=0)
    times = {"GRPOTrainer": [], "SRGRPOTrainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(a.rounds):
            order = ["GRPOTrainer", "SRGRPOTrainer"] if rnd % 2 == 0 else ["SRGRPOTrainer", "GRPOTrainer"]
            for name in order:
                if name == "GRPOTrainer":
                    cls, args = GRPOTrainer, GRPOConfig(output_dir=tmp, **common)
                else:
                    cls, args = SRGRPOTrainer, SRGRPOConfig(output_dir=tmp, soft_advantage=a.soft_advantage,
                                                            max_prompt_length=None, **common)
                trainer = cls(model=copy.deepcopy(base_model), reward_funcs=[reward], args=args, train_dataset=ds,
                              processing_class=tok)
                trainer.train()
                steps = [h["step_time"] for h in trainer.state.log_history if "step_time" in h]
                times[name] += steps[1:]
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["SRGRPOTrainer"] / med["GRPOTrainer"]
    for k, v in med.items():
        print(f"{k:14s} median step {v * 1e3:7.1f} ms over {len(times[k])} steps")
    print(f"ratio SR / GRPO: {ratio:.3f}")
    print(json.dumps({"median_step_s": med, "ratio": ratio, "steps_each": {k: len(v) for k, v in times.items()},
                      "threads": a.threads, "soft_advantage": a.soft_advantage}))


if __name__ == "__main__":
    main()
