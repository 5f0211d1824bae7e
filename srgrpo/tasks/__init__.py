"""The tasks: the problems a model is trained and measured on, and how its answers are graded.

- :mod:`srgrpo.tasks.numbers`: numbers as people write them (``1,234``, ``-3.5``, ``\\frac{1}{2}``), parsed exactly;
- :mod:`srgrpo.tasks.answers`: where a completion states its final answer, and which number that is;
- :mod:`srgrpo.tasks.rewards`: the reward functions (correctness, format) TRL calls, and the answer format;
- :mod:`srgrpo.tasks.work`: the equations the work writes (``16 - 3 - 4 = 9``), checked with exact arithmetic;
- :mod:`srgrpo.tasks.expressions`: one arithmetic expression in a sentence, read into exact values (for ``work``);
- :mod:`srgrpo.tasks.gsm8k`: GSM8K, read from disk or the hub (its download command is :mod:`srgrpo.gsm8k`);
- :mod:`srgrpo.tasks.arithmetic`: the synthetic one- and two-step word problems, generated from a seed;
- :mod:`srgrpo.tasks.word_problems`: both problem sets by name (``gsm8k``, ``arithmetic``), as chat prompts.

A new task goes here: a module that returns a ``datasets.Dataset`` with ``prompt`` and ``answer`` columns, named in
:data:`srgrpo.tasks.word_problems.PROBLEM_SETS`, graded by the rewards above (or its own reward functions).

May import: :mod:`srgrpo.plumbing`, ``datasets``. Never the trainer, the models or the commands.
Imported by: the commands (train, eval_gsm8k, gsm8k), the lab, the figures (problem set names).
"""
