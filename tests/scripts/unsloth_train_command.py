"""Child interpreter of tests/test_unsloth.py: the import order, then the train command, under Unsloth's rewrite.

    python tests/scripts/unsloth_train_command.py RESULT.json OUTPUT_DIR

1. ``from trl import GRPOTrainer`` runs first (the classic mistake: a name bound to TRL's pristine class), then
   Unsloth's rewrite is applied (tests/unsloth_support.py; on a GPU, ``import unsloth`` does it), then the kit is
   imported: ``SRGRPOTrainer`` must still sit on Unsloth's trainer.
2. ``srgrpo.train.command.main(["--preset", "tiny_cpu", "--max_steps", "2", ...])``, exactly what
   ``python -m srgrpo.train`` runs, trains in this process on Unsloth's trainer with the model plain transformers
   loaded (no test-side patching of the model), and writes its normal output folder.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

result_path, out_dir = Path(sys.argv[1]), sys.argv[2]
res: dict = {}


def write() -> None:
    result_path.write_text(json.dumps(res, indent=1))


try:
    from trl import GRPOTrainer as early  # before Unsloth and before the kit

    import unsloth_support as us

    rewritten = us.apply_rewrite(result_path.parent / "unsloth_compiled_cache")
    import torch

    torch.set_num_threads(1)
    import srgrpo

    base = next(c for c in srgrpo.SRGRPOTrainer.__mro__[1:] if not c.__module__.startswith("srgrpo"))
    res["order"] = {
        "early_name": early.__name__,
        "early_is_rewritten": early is rewritten,
        "base": base.__name__,
        "base_is_rewritten": base is rewritten,
        "config_base_module": srgrpo.SRGRPOConfig.__mro__[1].__module__,
    }
except Exception as exc:  # noqa: BLE001 - reported to the parent
    res["setup_error"] = "".join(traceback.format_exception(exc))[-6000:]
    write()
    sys.exit(1)
write()

try:
    from srgrpo.train.command import main

    res["train_returncode"] = main(["--preset", "tiny_cpu", "--max_steps", "2", "--save_steps", "1",
                                    "--train_limit", "8", "--output_dir", out_dir])
except BaseException as exc:  # noqa: BLE001
    res["train_error"] = "".join(traceback.format_exception(exc))[-6000:]
write()
