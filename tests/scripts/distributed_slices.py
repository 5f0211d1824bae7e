"""Run by tests/test_trainer.py under `torchrun --nproc_per_node 2`: two SR-GRPO steps on CPU (gloo).

Each rank writes, per step, the rewards its reward function returned for its own completions, the
gathered rewards the trainer saw, and the advantages it kept; the test rebuilds the global vector
from the ranks' local rewards and checks every rank kept exactly its slice.
"""

import json
import os
import sys
from pathlib import Path

from datasets import Dataset

from srgrpo import SRGRPOConfig, SRGRPOTrainer
from srgrpo.models.tiny import load_tiny
from srgrpo.plumbing.process_group import end_process_group

out_dir, tiny_dir = Path(sys.argv[1]), sys.argv[2]
rank = int(os.environ["RANK"])
steps = []


def text_len(completions, **kwargs):
    rewards = [float(len(c[0]["content"]) % 7) for c in completions]
    steps.append({"local_rewards": rewards})
    return rewards


class Probe(SRGRPOTrainer):
    def _calculate_rewards(self, *args, **kwargs):
        rpf = super()._calculate_rewards(*args, **kwargs)
        steps[-1]["rank_saw_global"] = rpf[:, 0].tolist()
        return rpf

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        steps[-1]["advantages"] = out["advantages"].tolist()
        return out


model, tok = load_tiny(tiny_dir)
ds = Dataset.from_list([{"prompt": [{"role": "user", "content": f"What is {i} plus {2 * i}?"}]} for i in range(12)])
args = SRGRPOConfig(
    output_dir=str(out_dir / "run"), per_device_train_batch_size=6, num_generations=4, max_completion_length=10,
    max_steps=2, logging_steps=1, report_to="none", use_cpu=True, gradient_checkpointing=False, save_strategy="no",
    disable_tqdm=True, soft_advantage="per_sample", beta=0.0, seed=0, ddp_backend="gloo",
)
trainer = Probe(model=model, reward_funcs=[text_len], args=args, train_dataset=ds, processing_class=tok)
assert trainer.accelerator.num_processes == 2, trainer.accelerator.num_processes
trainer.train()
(out_dir / f"rank{rank}.json").write_text(json.dumps({"rank": rank, "steps": steps}))
# Leave as the kit's train command does: drop the trainer, then end the process group and join gloo's worker threads
# (a barrier and destroy_process_group() alone left them running: an abort at exit under load, issue #38).
del trainer, model
assert end_process_group() is not False, "gloo's worker threads outlived the process group"
