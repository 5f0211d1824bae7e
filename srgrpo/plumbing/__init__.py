"""The plumbing: what every part leans on and no lesson is about.

- :mod:`srgrpo.plumbing.runtime`: files written atomically, the cache folder, environment flags, whether the Hugging
  Face hub can be reached, library versions, the main process of a distributed run, torch's threads;
- :mod:`srgrpo.plumbing.process_group`: ending the process group of a two-process (torchrun / accelerate launch) run
  so that gloo's worker threads are joined before the interpreter exits;
- :mod:`srgrpo.plumbing.stats`: the statistics the kit reports (Wilson intervals of an accuracy, Student-t intervals
  over seeds, the paired t-test and Holm's adjustment, via ``scipy.stats``), and their text.

May import: the standard library, numpy, scipy (torch only inside the functions that need it). Nothing of the kit
(the bottom layer).
Imported by: every other part.
"""
