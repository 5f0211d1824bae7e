"""Notebook glue: the layer between the kit and its notebooks, one module per notebook (as d2l marks its helpers).

The notebooks import from here and define no logic of their own. Each module is named for the notebook it serves and
holds what only that notebook needs, re-exporting the rest of what the notebook calls from the layers below:

- :mod:`srgrpo.notebook.setup`: what every notebook calls first (:func:`srgrpo.notebook.setup.setup_notebook`, the committed results);
- :mod:`srgrpo.notebook.slider`: the one :class:`srgrpo.notebook.slider.FigureSlider` and its factory
  :func:`srgrpo.notebook.slider.tau_slider`;
- :mod:`srgrpo.notebook.soft_advantage`: notebook 1, ``01_soft_advantage``;
- :mod:`srgrpo.notebook.advantage_lab`: notebook 2, ``02_advantage_lab``;
- :mod:`srgrpo.notebook.trainer_on_cpu`: notebook 3, ``03_trainer_on_cpu`` (SRGRPOTrainer on a real model);
- :mod:`srgrpo.notebook.colab`: the notebooks' first cell on Colab (installs the pinned set; standard library only,
  because it runs by path before anything is installed).

May import: every other part (it is the top layer).
Imported by: the notebooks only; nothing in the package imports it (an import-linter contract in ``pyproject.toml``
checks that).
"""

from srgrpo.notebook.setup import quiet_loggers as _quiet_loggers

_quiet_loggers()  # before any glue module imports a library that logs while it is imported (srgrpo.notebook.setup)
