r"""The notebooks' slider: one :class:`FigureSlider`, and one factory, :func:`tau_slider`, every explorer uses.

:class:`FigureSlider` ties a core ipywidgets slider to a function ``render(value) -> (Figure,
data)``. :meth:`FigureSlider.show` displays the slider and a *static* figure at once (so a
notebook viewer that runs no code still shows it); moving the slider calls
:meth:`FigureSlider.update`, which redraws and replaces the displayed image:

- in Jupyter (ipywidgets 8) through a display handle (``display(fig, display_id=True)`` then
  ``handle.update(fig)``);
- in Google Colab (ipywidgets 7.7) inside an ``Output`` widget, Colab's documented way.

Only core widgets whose API is the same in ipywidgets 7 and 8 are used (``FloatSlider``,
``SelectionSlider``, ``Output``, ``VBox``). :meth:`FigureSlider.update` is a plain method: tests
(and curious readers) call it with any value and get the plotted numbers back.

A static viewer (GitHub, nbviewer, a notebook opened without running it) shows the figure drawn when the cell ran;
moving the slider needs a running kernel.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from srgrpo.notebook.setup import in_colab

__all__ = ["FigureSlider", "tau_slider"]


class FigureSlider:
    """A core ipywidgets slider that redraws one figure (see the module docstring).

    Args:
        render: ``render(value) -> (Figure, data)``; called once at construction and on every move.
        slider: a core slider widget (``FloatSlider``, ``SelectionSlider``, ...).

    Attributes:
        slider: the widget; setting ``slider.value`` redraws, exactly like moving it by hand.
        figure, data: what the last :meth:`update` drew, and its numbers.
    """

    def __init__(self, render: Callable[[Any], tuple[Any, Any]], slider):
        self.render = render
        self.slider = slider
        self.figure, self.data = render(slider.value)
        self._handle = None
        self._output = None
        slider.observe(self._on_change, names="value")

    def update(self, value) -> Any:
        """Redraw for ``value`` (and replace the displayed image if :meth:`show` was called); return the numbers."""
        self.figure, self.data = self.render(value)
        if self._output is not None:
            from IPython.display import display

            self._output.clear_output(wait=True)
            with self._output:
                display(self.figure)
        elif self._handle is not None:
            self._handle.update(self.figure)
        return self.data

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.update(change["new"])

    def show(self) -> None:
        """Display the slider and, right away, the figure for its current value."""
        from IPython.display import display

        if in_colab():
            import ipywidgets as widgets

            self._output = widgets.Output()
            with self._output:
                display(self.figure)
            display(widgets.VBox([self.slider, self._output]))
        else:
            display(self.slider)
            self._handle = display(self.figure, display_id=True)


def tau_slider(
    render: Callable[[float], tuple[Any, Any]],
    *,
    taus: Sequence[float] | None = None,
    tau: float | None = None,
    tau_min: float = 0.05,
    tau_max: float = 3.0,
    step: float = 0.05,
) -> FigureSlider:
    """A :class:`FigureSlider` over the temperature tau, redrawing ``render(tau) -> (Figure, data)``.

    With ``taus`` (the temperatures a results file holds) it is a ``SelectionSlider`` over them, starting at ``tau``
    or the one nearest 0.5; without, a ``FloatSlider`` from ``tau_min`` to ``tau_max`` in ``step``s, starting at
    ``tau`` (default 0.5).
    """
    import ipywidgets as widgets

    if taus is None:
        slider = widgets.FloatSlider(value=0.5 if tau is None else tau, min=tau_min, max=tau_max, step=step,
                                     description="tau", continuous_update=False, readout_format=".2f")
        return FigureSlider(render, slider)
    taus = list(taus)
    if not taus:
        raise ValueError("this summary has no soft runs (shared/per_sample), so there is no tau to choose.")
    if tau is None:
        tau = min(taus, key=lambda t: abs(t - 0.5))
    slider = widgets.SelectionSlider(options=[(f"{t:g}", t) for t in taus], value=tau, description="tau",
                                     continuous_update=False)
    return FigureSlider(render, slider)
