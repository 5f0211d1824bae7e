"""How two presets differ, and why: the settings whose values differ, each with the reason its preset file gives.

A preset file (``srgrpo/train/presets/*.yaml``) explains a setting in the comment on its line, continued on the
indented comment lines right under it::

    tau: 1.0                # why 1 here: the first line of the reason,
                            # and the rest of it
    beta: 0.0               # ...

:func:`setting_reasons` reads those comments (a comment that starts at the left margin belongs to no one setting:
it explains a group, or the file); :func:`preset_differences` compares two presets setting by setting, a setting a
preset leaves out taking the train command's default (the dataclasses' field defaults, the same on every machine),
so that a setting given its default value explicitly is not a difference. Notebook 4 prints the result
(:meth:`srgrpo.train.main_job.MainJob.settings_table`); ``tests/train/test_main_job.py`` requires a reason for every
setting in which the shipped presets differ.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgrpo.train.settings import preset_settings, resolve_preset

__all__ = ["Difference", "setting_reasons", "setting_defaults", "preset_differences"]

#: ``key: value  # reason`` at the left margin (the value holds no " #": the presets' values are plain scalars and
#: lists).
_SETTING_LINE = re.compile(r"^(?P<key>[A-Za-z_]\w*):(?P<value>.*?)(?:\s+#\s?(?P<comment>.*))?$")
#: An indented comment line: the previous setting's reason, continued.
_CONTINUATION = re.compile(r"^\s+#\s?(?P<comment>.*)$")


def setting_reasons(name_or_path: str | Path) -> dict[str, str]:
    """Each setting of a preset that has a comment on its line -> that comment, with its indented continuation lines
    joined by spaces."""
    reasons: dict[str, str] = {}
    current: str | None = None
    for line in resolve_preset(str(name_or_path)).read_text(encoding="utf-8").splitlines():
        setting = _SETTING_LINE.match(line)
        if setting:
            comment = (setting["comment"] or "").strip()
            current = setting["key"] if comment else None
            if comment:
                reasons[current] = comment
            continue
        more = _CONTINUATION.match(line)
        if more and current is not None:
            reasons[current] += " " + more["comment"].strip()
        else:
            current = None
    return reasons


def setting_defaults() -> dict[str, Any]:
    """Every setting of ``python -m srgrpo.train`` -> its field default (before any preset or machine default)."""
    from srgrpo.train.settings import build_parser

    defaults: dict[str, Any] = {}
    for kind in build_parser().dataclass_types:
        for f in dataclasses.fields(kind):
            if f.name in defaults or not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                defaults[f.name] = f.default_factory()
    return defaults


@dataclass(frozen=True)
class Difference:
    """One setting in which presets differ: per preset, its value, whether that is the default, and its reason."""

    setting: str
    values: tuple[Any, ...]
    by_default: tuple[bool, ...]
    reasons: tuple[str | None, ...]


def preset_differences(names: list[str]) -> tuple[list[Difference], list[str]]:
    """The settings in which the presets ``names`` differ (in the order the files give them), and those that any of
    them sets but all share."""
    tables = [preset_settings(name) for name in names]
    reasons = [setting_reasons(name) for name in names]
    defaults = setting_defaults()
    keys = list(dict.fromkeys(k for table in tables for k in table))
    differ, alike = [], []
    for key in keys:
        values = tuple(table.get(key, defaults.get(key)) for table in tables)
        if all(value == values[0] for value in values):
            alike.append(key)
            continue
        differ.append(Difference(key, values, tuple(key not in table for table in tables),
                                 tuple(reason.get(key) if key in table else None
                                       for table, reason in zip(tables, reasons))))
    return differ, alike
