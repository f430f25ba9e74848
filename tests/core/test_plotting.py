"""layca_core.plotting: labels inside the figure, shared colorbar, decay marks, the install hint."""

import subprocess
import sys

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import layca_core  # noqa: E402
from layca_core.plotting import layer_colorbar  # noqa: E402


def history():
    curves = layca_core.RotationHistory(("a", "b", "c"))
    for epoch in range(4):
        curves.record(epoch, float(epoch), [0.1 * epoch, 0.2 * epoch, 0.05 * epoch])
    return curves


def test_single_panel_keeps_its_labels_inside_the_figure():
    ax = layca_core.plot_layer_rotation(history(), title="t", marks=[2])
    figure = ax.figure
    figure.canvas.draw()
    box = figure.bbox
    colorbar_axes = [a for a in figure.axes if a is not ax]
    texts = [ax.xaxis.label, ax.yaxis.label, *colorbar_axes[0].get_yticklabels()]
    for text in texts:
        extent = text.get_window_extent()
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0, text.get_text()
    assert [line.get_xdata()[0] for line in ax.get_lines()[:1]] == [2]


def test_panels_share_one_colorbar():
    figure, axes = matplotlib.pyplot.subplots(1, 3, layout="constrained")
    for ax in axes:
        layca_core.plot_layer_rotation(history(), ax=ax, colorbar=False)
    layer_colorbar(list(axes))
    assert len(figure.axes) == 4


def test_missing_matplotlib_names_the_extra():
    code = "import sys; sys.modules['matplotlib'] = None\nimport layca_core\nlayca_core.plot_layer_rotation(None)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert 'pip install "layca[plot]"' in result.stderr
