"""The numbers README.md and docs/cpu.md state by hand are the committed results files', number for number.

docs/lab.md's tables are generated (tests/lab/test_lab_report.py); these are the few numbers typed around them.
"""

from __future__ import annotations

import json
import statistics

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CPU = (REPO / "docs" / "cpu.md").read_text(encoding="utf-8")


def _json(*parts: str) -> dict:
    return json.loads(REPO.joinpath(*parts).read_text())


def _step_benchmark() -> dict:
    return {r["variant"]: r for r in _json("data", "benchmarks", "cpu_step_benchmark.json")["results"]}


def test_the_readmes_cost_of_a_step_is_the_benchmarks():
    bench = _step_benchmark()
    kit, trl = bench["kit"], bench["trl"]
    assert (f"{kit['median_s']['step']:.1f} s a step for the kit against {trl['median_s']['step']:.1f} s for plain "
            f"TRL + peft, peak memory {kit['peak_rss_gb']:.2f} GB") in " ".join(README.split())
    tokens = statistics.median(step["completion_tokens"] for step in kit["per_step"]) / 16
    assert round(tokens, -1) == 60 and "16 completions of about 60 tokens" in " ".join(README.split())


def test_the_cost_table_is_the_benchmarks():
    bench = _step_benchmark()
    for label, variant in (("plain TRL + peft, float32", "trl"), ("the kit (`smollm2_cpu`)", "kit")):
        m, r = bench[variant]["median_s"], bench[variant]
        row = (f"| {label} | {m['step']:.1f} s | {m['generation']:.1f} s | {m['loss_forward']:.1f} s | "
               f"{m['loss_backward']:.1f} s | {r['completion_tokens_per_s']:.0f} | {r['peak_rss_gb']:.2f} GB |")
        assert row in CPU, row


def test_the_stale_numbers_are_gone():
    # The fast path's learning table was made at the preset's earlier tau 0.5; "16 %" is in no results file.
    for page in (README, CPU):
        assert "| fast path, seed 0 |" not in page and "16% of its sampled" not in page


def test_results_at_a_glance_are_the_results_files():
    text = " ".join(README.split())
    bandit = _json("data", "results", "bandit.json")["runs"]
    last = {label: run["checkpoints"][-1] for label, run in bandit.items()}
    steps = last["grpo"]["step"]
    assert (f"after {steps} steps `grpo` reaches {last['grpo']['mean']:.2f} of the optimum and `per_sample(tau=1)` "
            f"{last['per_sample(tau=1)']['mean']:.2f}") in text
    shared = max(v["mean"] for k, v in last.items() if k.startswith("shared"))
    assert f"stays at or below {shared:.2f}" in text
    assert all(bandit[k]["steps_to_80"]["reached"] == 0 for k in bandit if k.startswith("shared"))

    real = _json("data", "results", "real.json")
    start = real["start"]["heldout"]["accuracy"]["percent"]
    after = {k: m["after"]["accuracy"]["mean"] for k, m in real["methods"].items()}
    assert (f"greedy accuracy {start:.1f}% before; after, `per_sample(tau=1)` {after['per_sample(tau=1)']:.1f}%, "
            f"`grpo` {after['grpo']:.1f}%, `shared(tau=0.5)` {after['shared(tau=0.5)']:.1f}%, the `constant` control "
            f"{after['constant']:.1f}%") in text
    primary = {(c["label"], c["other"]): c for c in real["comparisons"]["primary"]}
    significant = {pair for pair, c in primary.items() if c["significant"]}
    assert significant == {("per_sample(tau=1)", "shared(tau=0.5)"), ("per_sample(tau=1)", "constant"),
                           ("grpo", "constant")}
    pg = primary[("per_sample(tau=1)", "grpo")]
    assert f"undecided ({pg['mean']:+.1f} points [{pg['low']:+.1f}, {pg['high']:+.1f}])" in text


def _seeds_text(seeds: list[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else "/".join(map(str, seeds))


def test_what_the_main_job_prints_and_its_spread_are_the_benchmarks():
    """The Quickstart's verdict is the first confirmation seed's, as the verdict prints it from that seed's stored
    records; the ranges over seeds, in each precision, are the stored runs'."""
    from srgrpo.__main__ import verdict_lines
    from srgrpo.eval_gsm8k.records import summarize

    text = " ".join(README.split())
    for name, precision in (("main_job_seeds.json", "bf16"), ("main_job_seeds_float32.json", "float32")):
        bench = _json("data", "benchmarks", name)
        runs, summary = bench["runs"], bench["summary"]
        n = summary["correct"]["n"]
        assert f"seeds {_seeds_text(summary['seeds'])}" in text, name
        for key, word in (("correct", "correct"), ("in_format", "in format"), ("cut_off", "cut off")):
            s = summary[key]
            if precision == "float32" and key == "cut_off":
                continue  # the float32 sentence gives the two counts the targets name
            assert f"{word} {s['before']}/{n} -> {s['min']}-{s['max']}/{n}" in text, (name, key, s)
        minutes = summary["minutes"]
        assert f"{min(minutes):.1f}-{max(minutes):.1f} minutes" in text, name
    spans = [f"{min(m):.1f}-{max(m):.1f}" for m in (_json("data", "benchmarks", name)["summary"]["minutes"]
                                                    for name in ("main_job_seeds.json", "main_job_seeds_float32.json"))]
    assert f"the whole CPU job: {spans[0]} minutes in bf16, {spans[1]} in float32" in text
    bench = _json("data", "benchmarks", "main_job_seeds.json")
    first = bench["runs"][0]
    records = _json(*first["records"].split("/"))
    lines = verdict_lines(summarize(records["before"]), summarize(records["after"]), [])
    for line in lines[:2]:
        assert line in README, line
    minutes = first["verdict"][0].split("(")[1].split(" min")[0]
    assert f"before -> after ({minutes} min in all;" in README and f"(seed {first['seed']}, the first" in text
    after = bench["summary"]["correct"]["after"]
    below = sum(c < bench["summary"]["correct"]["before"] for c in after)
    at = sum(c == bench["summary"]["correct"]["before"] for c in after)
    assert f"correct ended below {bench['summary']['correct']['before']} in {below} of the {len(after)} seeds and at " \
           f"{bench['summary']['correct']['before']} in {at}" in text
    assert f"(median {statistics.median(after):g})" in text


def test_notebook_4_quotes_the_main_jobs_seeds_as_stored():
    nb = json.loads((REPO / "notebooks" / "04_gsm8k_unsloth.ipynb").read_text())
    text = " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
    s = _json("data", "benchmarks", "main_job_seeds.json")["summary"]
    seeds = s["seeds"]
    assert f"over seeds {', '.join(map(str, seeds[:-1]))} and {seeds[-1]}" in text
    assert f"it ended with {s['correct']['min']} to {s['correct']['max']} of {s['correct']['n']} correct" in text
    formats = s["in_format"]["after"]
    assert f"but with {', '.join(map(str, formats[:-1]))} and {formats[-1]} answers in format" in text


def test_the_stability_verdict_is_the_results_files():
    """README's line and docs/stability.md's verdict are the stability file's tests, word for word; "in progress"
    while its runs are not all in."""
    stability = _json("data", "results", "stability.json")
    readme = " ".join(README.split())
    page = " ".join((REPO / "docs" / "stability.md").read_text(encoding="utf-8").split())
    if not stability.get("complete"):
        assert "the stability experiment ([docs/stability.md](docs/stability.md)) is in progress" in readme
        return
    tests = stability["analysis"]["tests"]

    def said(test: dict) -> str:
        return "supported" if test["supported"] else "not supported"

    p1, p2 = (f"p = {t['p']:.3f}" if t["p"] >= 0.001 else "p <0.001" for t in (tests["H1"], tests["H2"]))
    h2 = p2 if tests["H2"]["tested"] else f"not tested, as H1 was not supported; {p2}"
    verdict = f'"more stable" (H1) is {said(tests["H1"])} ({p1}), "smoother" (H2) is {said(tests["H2"])} ({h2})'
    assert verdict in readme, verdict
    assert verdict in page, verdict
    assert "in progress" not in readme and "in progress" not in page
    assert "in progress" not in (REPO / "docs" / "lab.md").read_text(encoding="utf-8"), "docs/lab.md: stale words"
    rep = stability["analysis"]["replication"]
    replicated = f"{rep['mean']:+.1f} points [{rep['low']:+.1f}, {rep['high']:+.1f}]"
    assert f"replicated as {replicated}" in readme and f"({replicated}, paired by seed)" in page
    methods = stability["analysis"]["methods"]
    earlier = [r["heldout"]["accuracy"]["percent"] for r in _json("data", "results", "real.json")["runs"]
               if r["label"] == "per_sample(tau=1)"]
    soft, grpo = (methods[label]["accuracy"] for label in ("per_sample(tau=1)", "grpo"))
    assert (f"spread about as widely as `grpo`'s ({min(soft):g} to {max(soft):g} % against {min(grpo):g} to "
            f"{max(grpo):g} %), so the narrow spread of seeds 1-5 ({min(earlier):g} to {max(earlier):g} %)") in page
    assert len(stability["machines"]) == 1 and "All 20 ran on one CPU kind" in page


def test_the_stability_power_is_the_power_file():
    """docs/stability.md's "What the design could see" is data/results/stability_power.json, number for number."""
    power = _json("data", "results", "stability_power.json")
    page = " ".join((REPO / "docs" / "stability.md").read_text(encoding="utf-8").split())
    rows = {row["ratio"]: row for row in power["power"]}
    settings = power["settings"]
    assert f"{settings['simulations']} times a fraction, seed {settings['seed']}" in page
    for ratio, words in ((0.5, "half `grpo`'s, the test would have said \"supported\" in "), (0.25, "a quarter: "),
                         (0.75, "three quarters: "), (1.0, "the same spread: ")):
        r = rows[ratio]
        said = f"{words}{100 * r['rate']:.1f}% [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"
        assert said in page, said
    readme = " ".join(README.split())
    assert (f"finds `per_sample`'s spread halved in {100 * rows[0.5]['rate']:.1f}% of simulated experiments, "
            f"quartered in {100 * rows[0.25]['rate']:.1f}%") in readme


def test_the_4bit_table_is_the_benchmarks():
    """docs/cpu.md's 4-bit table and its ratios are data/benchmarks/cpu_4bit.json's (benchmarks/bench_4bit_cpu.py)."""
    bench = _json("data", "benchmarks", "cpu_4bit.json")
    results = {r["variant"]: r for r in bench["results"]}
    labels = {"float32": "float32", "bfloat16": "bfloat16", "nf4-float32": "NF4, computing in float32",
              "nf4-bfloat16": "NF4, computing in bfloat16"}
    for variant, label in labels.items():
        r = results[variant]
        row = (f"| {label} | {r['weights_mb']:.0f} MB | {r['peak_rss_gb']:.2f} GB | "
               f"{r['forward_backward_cpu_s']:.1f} s | {r['generate_cpu_s']:.1f} s |")
        assert row in CPU, row
    text = " ".join(CPU.split())
    f32, b16, n32, n16 = (results[v] for v in labels)
    assert (f"forward and backward x{n32['forward_backward_cpu_s'] / f32['forward_backward_cpu_s']:.2f} in float32 and "
            f"x{n16['forward_backward_cpu_s'] / b16['forward_backward_cpu_s']:.2f} in bfloat16") in text
    assert (f"sampling x{n32['generate_cpu_s'] / f32['generate_cpu_s']:.2f} and "
            f"x{n16['generate_cpu_s'] / b16['generate_cpu_s']:.2f}") in text
    assert f"{100 * n32['nf4_relative_error']:.1f} % for SmolLM2" in text
    assert (f"NF4 in float32 peaks {f32['peak_rss_gb'] - n32['peak_rss_gb']:.1f} GB below float32, and NF4 in "
            f"bfloat16 {n16['peak_rss_gb'] - b16['peak_rss_gb']:.1f} GB above bfloat16") in text
    wall = max(max(r["forward_backward_s"] / r["forward_backward_cpu_s"], r["generate_s"] / r["generate_cpu_s"])
               for r in results.values())
    assert f"were up to {wall:.1f} times longer" in text
    assert (f"load average {bench['load_average_at_start'][0]:.0f} to {bench['load_average_at_end'][0]:.0f} on 2 "
            "cores") in text
    assert f"--repeats {f32['repeats']} --rounds {bench['rounds']} --threads {bench['threads']}" in text
    assert bench["cpu"]["model_name"] in text


def test_results_at_a_glance_say_what_the_recipe_and_wrong_work_files_say():
    text = " ".join(README.split())
    s = _json("data", "benchmarks", "main_job_seeds.json")["summary"]
    c, f, n = s["correct"], s["in_format"], s["correct"]["n"]
    below = sum(a < c["before"] for a in c["after"])
    assert (f"run on {len(s['seeds'])} fresh seeds: in format {f['before']}/{n} -> {f['min']}-{f['max']}/{n} in every "
            f"seed; correct {c['before']}/{n} -> {c['min']}-{c['max']}/{n}, below {c['before']} in {below} of "
            f"{len(s['seeds'])} seeds") in text
    assert min(f["after"]) >= 58  # "in every seed": the format target, 58/64, met by each
    w = _json("data", "results", "wrong_work.json")
    b, after, t = w["before"], w["pooled"]["after"], w["test"]
    assert (f"{b['wrong_work']} of {b['correct']} correct answers before training, {after['wrong_work']} of "
            f"{after['correct']} after over the {t['n']} seeds; the declared test: {t['answer']} (mean change in the "
            f"share {t['mean']:+.3f} [{t['low']:+.3f}, {t['high']:+.3f}])") in text
