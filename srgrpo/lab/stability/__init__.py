"""The stability study (``python -m srgrpo.lab stability`` and ``power``): is SR-GRPO more stable than GRPO?

:mod:`.plan` is the plan declared before the first run, :mod:`.analysis` its declared tests, :mod:`.figures` the figure
and verdicts drawn from the JSON, :mod:`.command` the command that runs the fresh seeds (through the real-model
comparison, :mod:`srgrpo.lab.real`), :mod:`.power` what the declared test could see, by simulation. Inside the
package: command | power > analysis | figures > plan.
"""
