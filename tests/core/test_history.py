"""The history record round-trips through JSON and CSV, and the plot follows the paper's look."""

import matplotlib

matplotlib.use("Agg")

import pytest

import layca_core


@pytest.fixture
def history():
    record = layca_core.RotationHistory(layer_names=("conv1", "conv2", "fc"))
    record.record(0, 0.0, [0.0, 0.0, 0.0])
    record.record(50, 0.5, [0.1234567890123, 0.2, 0.05])
    record.record(100, 1.0, [0.5, 0.4, 1 / 3])
    return record


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_round_trip_keeps_every_bit(history, tmp_path, suffix):
    path = tmp_path / f"rotation{suffix}"
    history.save(str(path))
    assert layca_core.RotationHistory.load(str(path)) == history


def test_curve_by_layer_name(history):
    assert history.curve("fc") == [0.0, 0.05, 1 / 3]


def test_record_with_the_wrong_number_of_layers_is_refused(history):
    with pytest.raises(ValueError, match="layer_names has 3, distances has 2"):
        history.record(1, 1.0, [0.1, 0.2])


def test_plot_draws_one_viridis_line_per_layer_from_epoch_zero(history):
    history.epochs[0], history.steps[0] = 0.25, 25
    ax = layca_core.plot_layer_rotation(history, title="demo")
    lines = ax.get_lines()
    viridis = matplotlib.colormaps["viridis"]
    assert len(lines) == 3
    assert lines[0].get_color() == viridis(0.0) and lines[-1].get_color() == viridis(1.0)
    assert list(lines[0].get_xdata())[0] == 0.0 and list(lines[0].get_ydata())[0] == 0.0
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_xscale() == ax.get_yscale() == "linear"
    colorbar_labels = [t.get_text() for t in ax.figure.axes[-1].get_yticklabels()]
    assert colorbar_labels == ["first layer", "last layer"]
