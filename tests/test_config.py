"""SRGRPOConfig: the specification's defaults, TRL's fields, and clear errors at construction."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import HfArgumentParser
from trl import GRPOConfig

from srgrpo import SRGRPOConfig


def make(tmp_path, **kw):
    return SRGRPOConfig(output_dir=str(tmp_path), report_to="none", **kw)


def test_spec_defaults(tmp_path):
    c = make(tmp_path)
    assert (c.tau, c.soft_advantage) == (0.5, "shared")
    assert (c.num_generations, c.beta, c.max_prompt_length, c.max_completion_length, c.use_vllm) == (8, 0.1, 256, 512, False)
    assert c.bf16 is False  # no bf16 GPU here: the config must work on a CPU without extra flags


def test_every_grpo_field_is_there(tmp_path):
    sr = {f.name for f in dataclasses.fields(SRGRPOConfig)}
    grpo = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert grpo <= sr
    assert sr - grpo == {"tau", "soft_advantage", "max_prompt_length", "cpu_fast_generation", "cpu_shared_prompt"}
    assert isinstance(make(tmp_path), GRPOConfig)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(tau=0), "tau must be a finite number > 0"),
        (dict(tau=-0.5), "tau must be a finite number > 0"),
        (dict(tau=float("inf")), "tau must be a finite number > 0"),
        (dict(soft_advantage="hard"), "must be one of"),
        (dict(num_generations=1), "num_generations must be >= 2"),
        (dict(max_prompt_length=0), "max_prompt_length must be >= 1"),
        (dict(max_prompt_length=12.5), "max_prompt_length must be a positive integer"),
        (dict(beta=-0.1), "beta"),
        (dict(scale_rewards="batch"), "scale_rewards='batch' is not supported"),
        (dict(multi_objective_aggregation="normalize_then_sum"), "sum_then_normalize"),
    ],
)
def test_invalid_values_raise(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        make(tmp_path, **kw)


def test_max_prompt_length_none_disables(tmp_path):
    assert make(tmp_path, max_prompt_length=None).max_prompt_length is None


def test_command_line_parsing():
    (c,) = HfArgumentParser(SRGRPOConfig).parse_args_into_dataclasses(
        ["--output_dir", "x", "--tau", "0.2", "--soft_advantage", "per_sample", "--max_prompt_length", "64",
         "--report_to", "none"]
    )
    assert (c.tau, c.soft_advantage, c.max_prompt_length) == (0.2, "per_sample", 64)
    with pytest.raises(SystemExit):
        HfArgumentParser(SRGRPOConfig).parse_args_into_dataclasses(["--output_dir", "x", "--soft_advantage", "nope"])
