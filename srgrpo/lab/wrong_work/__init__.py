"""The wrong-work analysis (``python -m srgrpo.lab wrong_work``): does RL make "right answer, wrong work" more common?

Issue #39, part 2. Declared before any after-training share is computed (:mod:`.plan`, written into the results
file's ``declared`` block by ``--declare_only``); read from the main job's confirmation seeds, found and checked by
:mod:`.seeds` (every declared seed there, of the declared recipe); the declared test and what is reported beside it
in :mod:`.analysis`; :mod:`.command` is the command. Inside the package: command > seeds | analysis > plan.
"""
