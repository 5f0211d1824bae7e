"""The real-model lab's figures and plain-text tables, drawn from its JSON (:mod:`srgrpo.lab.real.command`), never from a
live model, in the kit's one palette (:mod:`srgrpo.plots.palette`):

* :func:`plot_real_heldout`: held-out rates after training, every seed a dot, the mean a bar across them, the
  pretrained model a dashed line (no interval of a mean around a rate: it could leave [0, 100]);
* :func:`plot_real_comparisons`: the declared comparisons, paired by seed: every seed's difference, the mean and its
  95% interval, the Holm-adjusted p-value (the axis always holds the whole interval);
* :func:`plot_real_curves`: training curves as small multiples, one column a method, every seed a thin line and the
  mean a thick one;
* :func:`format_table` and :func:`format_comparisons`: the same numbers as text.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Mapping

from srgrpo.plots.palette import method_style, run_label
from srgrpo.plumbing.stats import interval_text, p_text

__all__ = ["CURVE_PANELS", "HELDOUT_PANELS", "plot_real_curves", "plot_real_heldout", "plot_real_comparisons",
           "save_figures", "format_table", "format_comparisons", "format_findings", "seed_values",
           "seeds_cell", "change_text", "bounded_change", "aim_misses", "seeds_at_format_bar", "FORMAT_BAR",
           "ACCURACY_BAR", "SLOW_RUN", "cost_text"]

#: Training curves drawn, one row each: name in the run files -> axis label.
CURVE_PANELS = {
    "format": "sampled: format reward",
    "correctness": "sampled: correctness reward",
    "cut_off": "sampled: share cut off",
}
#: Held-out rates drawn: name -> axis label.
HELDOUT_PANELS = {
    "accuracy": "held-out: correct (%)",
    "strict_format": "held-out: in format ('#### N' last, stopped) (%)",
    "stopped": "held-out: stopped before the token limit (%)",
}


def _taus(summary: dict[str, Any]) -> list[float]:
    return sorted({m["tau"] for m in summary["methods"].values() if m["tau"] is not None})


def _seeds(summary: dict[str, Any]) -> int:
    return len(next(iter(summary["methods"].values()))["seeds"])


def plot_real_curves(summary: dict[str, Any], path=None, panels=tuple(CURVE_PANELS)):
    """Training curves of the sampled completions: a row per quantity, a column per method; thin lines are the
    seeds, the thick line their mean."""
    from matplotlib.figure import Figure

    taus = _taus(summary)
    methods = list(summary["methods"].values())
    fig = Figure(figsize=(2.6 * len(methods), 2.1 * len(panels) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), len(methods), squeeze=False, sharex=True, sharey="row")
    for col, method in enumerate(methods):
        style = method_style(method, taus)
        runs = [r for r in summary["runs"] if r["label"] == method["label"]]
        for row, name in enumerate(panels):
            ax = axes[row][col]
            for run in runs:
                ax.plot(run["curves"]["step"], run["curves"][name], color=style["color"], alpha=0.35, linewidth=0.9)
            curve = method["curves"][name]
            ax.plot(curve["step"], curve["mean"], color=style["color"], linewidth=2.2)
            ax.set_ylim(-0.05, 1.05)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(run_label(method), fontsize=9)
            if col == 0:
                ax.set_ylabel(CURVE_PANELS[name], fontsize=9)
            if row == len(panels) - 1:
                ax.set_xlabel("step")
                ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"Training on synthetic word problems, the sampled completions: {_seeds(summary)} seeds (thin) "
                 f"and their mean (thick)", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_real_heldout(summary: dict[str, Any], path=None, panels=tuple(HELDOUT_PANELS)):
    """Held-out rates of every method after training: each seed a dot, the mean a black bar across them; the
    pretrained model's rate is the dashed line."""
    from matplotlib.figure import Figure

    taus = _taus(summary)
    methods = list(summary["methods"].values())
    fig = Figure(figsize=(4.4 * len(panels), 4.3), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    n = summary["start"]["heldout"]["n"]
    for ax, name in zip(axes, panels):
        for i, method in enumerate(methods):
            values = method["per_seed"][name]
            style = method_style(method, taus)
            offsets = [(k - (len(values) - 1) / 2) * 0.09 for k in range(len(values))]  # side by side, not stacked
            ax.scatter([i + o for o in offsets], values, s=38, color=style["color"], edgecolors="black",
                       linewidths=0.7, zorder=3)
            ax.hlines(method["after"][name]["mean"], i - 0.32, i + 0.32, color="black", linewidth=2.4, zorder=2)
        ax.axhline(summary["start"]["heldout"][name]["percent"], color="0.3", linestyle="--", linewidth=1,
                   label="pretrained model")
        ax.set_xticks(range(len(methods)), [run_label(m) for m in methods], rotation=35, ha="right", fontsize=8)
        ax.set_title(HELDOUT_PANELS[name], fontsize=10)
        ax.set_ylim(-4, 104)  # a dot at 0 % or 100 % is drawn whole
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Greedy answers to {n} held-out problems after training: dots = the {_seeds(summary)} seeds, "
                 f"bar = their mean", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_real_comparisons(summary: dict[str, Any], path=None):
    """The declared comparisons: per-seed differences (dots), the mean (diamond) and its 95 % interval (line),
    with the Holm-adjusted p-value; zero is the dashed line."""
    from matplotlib.figure import Figure

    block = summary["comparisons"]
    rows = block["primary"]
    fig = Figure(figsize=(8.5, 0.55 * max(len(rows), 1) + 1.3), layout="constrained")
    ax = fig.subplots()
    lows = [0.0]
    highs = [0.0]
    for y, row in enumerate(reversed(rows)):
        ax.scatter(row["per_seed"], [y] * len(row["per_seed"]), s=26, color="tab:orange", edgecolors="black",
                   linewidths=0.6, zorder=3)
        if row["low"] is not None:
            ax.hlines(y, row["low"], row["high"], color="black", linewidth=2)
            lows.append(row["low"])
            highs.append(row["high"])
        ax.plot(row["mean"], y, "D", color="black", markersize=6, zorder=4)
        lows += row["per_seed"]
        highs += row["per_seed"]
    span = max(highs) - min(lows) or 1.0
    ax.set_xlim(min(lows) - 0.08 * span, max(highs) + 0.45 * span)  # room on the right for the p-values
    for y, row in enumerate(reversed(rows)):
        p = "n/a" if row["p"] is None else f"p {p_text(row['p'])}, Holm {p_text(row['p_holm'])}"
        ax.text(max(highs) + 0.06 * span, y, p, va="center", fontsize=8)
    ax.axvline(0, color="0.3", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(rows)), [f"{r['label']} - {r['other']}" for r in reversed(rows)], fontsize=9)
    ax.set_xlabel(f"difference in held-out {block['rate']} (points), paired by seed")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"The {len(rows)} declared comparisons: dots = seeds, diamond = mean, line = 95% interval",
                 fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def save_figures(summary: dict[str, Any], output) -> list[Path]:
    """The figures beside ``output`` (``real.json`` -> ``real-heldout.png``, ``real-comparisons.png``,
    ``real-curves.png``)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, draw in (("heldout", plot_real_heldout), ("comparisons", plot_real_comparisons),
                         ("curves", plot_real_curves)):
        path = output.with_name(f"{output.stem}-{suffix}.png")
        draw(summary, path)
        paths.append(path)
    return paths


def seed_values(values, fmt: str = "{:g}") -> str:
    """Per-seed values, compact: ``0/12/55/91/100`` (or ``+3/-1/+12`` with ``fmt="{:+g}"``)."""
    return "/".join(fmt.format(v) for v in values)


def seeds_cell(stat: dict[str, Any], values) -> str:
    """``mean (v1/v2/...)``: a rate's mean beside its per-seed values."""
    return f"{stat['mean']:.1f} ({seed_values(values)})"


def change_text(stat: dict[str, Any], unit: str = " points") -> str:
    """A change in points with its 95 % interval: ``+4.5 points [-1.0, +10.0]``."""
    return interval_text(stat, "{:+.1f}", unit)


def bounded_change(stat: Mapping[str, Any], start_percent: float) -> tuple[dict[str, Any], bool]:
    """A change in a rate, in points, with its 95 % interval kept to what the rate allows.

    The change is ``after - start`` where ``after`` is a percentage: it cannot fall below ``-start_percent`` or rise
    above ``100 - start_percent``. A t-interval over a few seeds ignores that (``constant``'s -3.9 [-6.6, -1.2] from a
    start of 5.0 % would put the rate below 0), so each end of the interval is clipped to that range: the interval on
    the rates' scale, clipped at 0 and 100, minus the start. Returns ``(the stat with "low"/"high" clipped, whether an
    end was clipped)``; a stat without an interval comes back as it is."""
    out = dict(stat)
    if out.get("low") is None or out.get("high") is None:
        return out, False
    floor, ceiling = -float(start_percent), 100.0 - float(start_percent)
    low, high = max(out["low"], floor), min(out["high"], ceiling)
    clipped = (low, high) != (out["low"], out["high"])
    out["low"], out["high"] = low, high
    return out, clipped


#: The note printed under a table whose change intervals were clipped (:func:`bounded_change`).
CLIPPED_NOTE = ("* an end of the 95% interval (a t-interval over the seeds) clipped to what the rate allows: the rate "
                "after training stays within 0-100%.")


#: A run that took more than this many times the median run's wall time was slowed by something other than its own
#: work (the committed comparison's six such runs shared the machine with a notebook's execution or were paused while
#: the test suite ran: docs/lab.md); :func:`cost_text` counts them apart, so that the total adds up.
SLOW_RUN = 1.5


def cost_text(summary: Mapping[str, Any]) -> str:
    """What the comparison's ``compute_s`` is made of, from its runs' wall times: the runs at a usual pace, those
    slowed by other work on the machine (over :data:`SLOW_RUN` times the median), and the pretrained model's
    evaluation, each with its minutes, so that the total visibly adds up (``25 runs x the median`` does not)."""
    walls = [run["wall_s"] / 60 for run in summary["runs"]]
    median = statistics.median(walls)
    usual = [w for w in walls if w <= SLOW_RUN * median]
    slow = [w for w in walls if w > SLOW_RUN * median]

    def group(values: list[float], what: str) -> str:
        low, high = f"{min(values):.1f}", f"{max(values):.1f}"
        each = low if low == high else f"{low} to {high}"
        return f"{len(values)} {what} {each} min each ({sum(values):.0f} min)"

    parts = [group(usual, "runs took" if len(usual) != 1 else "run took")]
    if slow:
        parts.append(group(slow, f"slowed by other work on the machine (over {SLOW_RUN:g} x the median) took"))
    start_s = summary["start"].get("eval_s")
    if start_s:
        parts.append(f"the pretrained model's evaluation {start_s / 60:.0f} min")
    return (f"{len(walls)} runs, {summary['compute_s'] / 60:.0f} min in all: " + "; ".join(parts)
            + f"; median {median:.1f} min a run")


def format_table(summary: dict[str, Any]) -> str:
    """Plain text: per method, each held-out rate's mean and per-seed values, the change in correct answers with its
    95 % interval (clipped to what the rate allows and marked ``*``, :func:`bounded_change`), and the median seconds
    a run. The words are :mod:`srgrpo.glossary`'s."""
    start = summary["start"]["heldout"]
    rows = [("method", "correct % (seeds)", "change [95%]", "in format % (seeds)", "stopped % (seeds)",
             "s/run (median)")]
    any_clipped = False
    for m in summary["methods"].values():
        cells = [seeds_cell(m["after"][rate], m["per_seed"][rate]) for rate in ("accuracy", "strict_format", "stopped")]
        change, clipped = bounded_change(m["change"]["accuracy"], start["accuracy"]["percent"])
        any_clipped |= clipped
        rows.append((run_label(m), cells[0], change_text(change, "") + ("*" if clipped else ""), cells[1], cells[2],
                     f"{m['wall_s']['median']:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    if any_clipped:
        lines.append(CLIPPED_NOTE)
    return (f"pretrained model: correct {start['accuracy']['percent']:.1f}%, in format "
            f"{start['strict_format']['percent']:.1f}%, stopped {start['stopped']['percent']:.1f}% "
            f"(n={start['n']})\n" + "\n".join(lines))


def format_comparisons(summary: dict[str, Any]) -> str:
    """Plain text: the declared comparisons with their per-seed differences, interval and p-values, and how many
    exploratory ones the JSON holds."""
    block = summary["comparisons"]
    rows = block["primary"]
    lines = [f"{len(rows)} declared comparisons of held-out {block['rate']}, paired by seed (points; p two-sided, "
             f"Holm-adjusted over the {len(rows)}):"]
    for r in rows:
        p = "n/a" if r["p"] is None else f"p {p_text(r['p'])}, Holm {p_text(r['p_holm'])}"
        verdict = "significant" if r.get("significant") else "not significant"
        lines.append(f"  {r['label'] + ' - ' + r['other']:<38} {change_text(r, ''):>22}  seeds "
                     f"{seed_values(r['per_seed'], '{:+g}')} ({r['positive']}/{r['n']} above 0); "
                     f"{p}: {verdict}")
    if block.get("missing"):
        lines.append(f"  not run here: {', '.join(block['missing'])}")
    lines.append(f"{len(block['exploratory'])} other comparisons (every pair of methods on every rate) are "
                 f"exploratory: in the JSON, unadjusted, not findings.")
    return "\n".join(lines)


#: The lab's aim for a method: in format of at least FORMAT_BAR percent in every seed, and an accuracy gain of at
#: least ACCURACY_BAR points whose 95 % interval lies above zero (:func:`aim_misses`).
FORMAT_BAR = 90.0
ACCURACY_BAR = 10.0


def seeds_at_format_bar(method: Mapping[str, Any], format_bar: float = FORMAT_BAR) -> tuple[int, int]:
    """``(seeds whose held-out in format reached format_bar percent, seeds)``: the one count of the format bar
    that the findings, the aim and notebook 3's conclusions all read."""
    strict = method["per_seed"]["strict_format"]
    return sum(v >= format_bar for v in strict), len(strict)


def aim_misses(method: Mapping[str, Any], format_bar: float = FORMAT_BAR, accuracy_bar: float = ACCURACY_BAR) -> list[str]:
    """What keeps a method from the lab's aim, as short phrases (none when it is met): in format of at least
    ``format_bar`` percent in every seed, and an accuracy gain of at least ``accuracy_bar`` points whose 95 % interval
    lies above zero."""
    change = method["change"]["accuracy"]
    misses = []
    reached, seeds = seeds_at_format_bar(method, format_bar)
    if reached < seeds:
        misses.append(f"format < {format_bar:.0f}% in {seeds - reached} of {seeds} seeds")
    if change["mean"] < accuracy_bar:
        misses.append(f"gain < {accuracy_bar:.0f} points")
    if change.get("low") is None or change["low"] <= 0:
        misses.append("gain's interval reaches 0")
    return misses


def format_findings(summary: dict[str, Any], format_bar: float = FORMAT_BAR, accuracy_bar: float = ACCURACY_BAR) -> list[str]:
    """What the comparison shows, as sentences computed from its JSON (docs/lab.md's reading).

    One sentence a method (its in format per seed against ``format_bar``, its accuracy change with its 95 %
    interval, and, for the methods that are not controls, whether it met the lab's aim, :func:`aim_misses`), then one
    on the declared comparisons.
    """
    lines = []
    start = summary["start"]["heldout"]["accuracy"]["percent"]
    for m in summary["methods"].values():
        reached, seeds = seeds_at_format_bar(m, format_bar)
        text = (f"`{m['label']}`{' (control)' if m['control'] else ''}: in format "
                f"{seed_values(m['per_seed']['strict_format'])}% ({reached} of {seeds} seeds at {format_bar:.0f}% or "
                f"more), accuracy change "
                f"{change_text(bounded_change(m['change']['accuracy'], start)[0])}")
        if not m["control"]:
            misses = aim_misses(m, format_bar, accuracy_bar)
            text += "; the aim is met" if not misses else f"; the aim is not met ({'; '.join(misses)})"
        lines.append(text + ".")
    block = summary.get("comparisons")
    if block and block["primary"]:
        rows = block["primary"]
        significant = [r for r in rows if r.get("significant")]
        if significant:
            names = "; ".join(f"`{r['label']}` - `{r['other']}` {change_text(r)} (Holm p {p_text(r['p_holm'])})"
                              for r in significant)
            lines.append(f"Of the {len(rows)} declared comparisons of held-out {block['rate']}, "
                         f"{len(significant)} {'is' if len(significant) == 1 else 'are'} significant after Holm's "
                         f"adjustment: {names}.")
        else:
            best = min(rows, key=lambda r: 1.0 if r["p_holm"] is None else r["p_holm"])
            lines.append(f"None of the {len(rows)} declared comparisons of held-out {block['rate']} is significant "
                         f"after Holm's adjustment (the smallest adjusted p: {p_text(best['p_holm'])}, "
                         f"`{best['label']}` - `{best['other']}`).")
    return lines
