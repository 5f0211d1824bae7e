"""The real-model comparison (``python -m srgrpo.lab real``): every advantage method on SmolLM2-135M-Instruct, on a CPU.

:mod:`.settings` holds the settings every run shares, :mod:`.task` the word problems and their scoring, :mod:`.runs`
one method at one seed, :mod:`.comparison` the summaries over seeds and the declared comparisons, :mod:`.figures` the
figures and tables drawn from the JSON, :mod:`.command` the command. Inside the package: command > runs | comparison >
task | settings | figures.
"""
