"""srgrpo.notebook.widgets is the notebooks' old import path: every name it offered still imports, as the same object."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")


def test_every_old_name_is_the_moved_object():
    import srgrpo.plots.advantage_figures as figures
    import srgrpo.plots.explain as explain
    import srgrpo.notebook.advantage_lab as nb2
    import srgrpo.notebook.setup as setup
    import srgrpo.notebook.slider as slider
    import srgrpo.notebook.soft_advantage as nb1
    import srgrpo.plots.palette as palette
    from srgrpo.notebook import widgets

    homes = [figures, explain, nb1, nb2, setup, slider, palette]
    assert len(widgets.__all__) == 22
    for name in widgets.__all__:
        home = next(m for m in homes if name in vars(m))
        assert getattr(widgets, name) is getattr(home, name), name
