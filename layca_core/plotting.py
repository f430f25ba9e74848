"""Layer rotation curves drawn as in the paper (matplotlib is imported only here, when called)."""

from collections.abc import Sequence
from typing import Any

from layca_core.history import RotationHistory

INSTALL_HINT = 'Plotting needs matplotlib: pip install "layca[plot]".'


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(INSTALL_HINT, name="matplotlib") from error
    return plt


def plot_layer_rotation(
    history: RotationHistory,
    ax: Any = None,
    title: str | None = None,
    *,
    colorbar: bool = True,
    marks: Sequence[float] = (),
) -> Any:
    """Draw one line per layer, viridis from the first (dark) to the last (yellow) layer.

    Linear axes, x = epoch from 0 (where every distance is 0), y = cosine distance in [0, 1],
    with a colorbar labelled first/last layer (``colorbar=False`` leaves it to the caller, see
    ``layer_colorbar``). ``marks`` are epochs drawn as dotted vertical lines (learning-rate decays).
    Without ``ax``, a new figure with a constrained layout. Returns the axes.
    """
    plt = _pyplot()
    if ax is None:
        ax = plt.figure(figsize=(4.4, 3.2), layout="constrained").add_subplot()
    epochs, rows = list(history.epochs), list(history.distances)
    if not epochs or epochs[0] > 0:
        epochs, rows = [0.0, *epochs], [[0.0] * len(history.layer_names), *rows]
    layers = len(history.layer_names)
    cmap = plt.get_cmap("viridis")
    for epoch in marks:
        ax.axvline(epoch, color="0.6", linestyle=":", linewidth=1.0)
    for index in range(layers):
        ax.plot(epochs, [row[index] for row in rows], color=cmap(index / max(layers - 1, 1)), linewidth=1.2)
    ax.set_xlim(0, max(epochs[-1], 1e-9))
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cosine distance to init")
    if title:
        ax.set_title(title)
    if colorbar:
        layer_colorbar(ax)
    return ax


def layer_colorbar(ax: Any, **options: Any) -> Any:
    """One colorbar labelled first/last layer beside ``ax`` (one axes, or a list of axes sharing it).

    ``options`` go to ``Figure.colorbar`` (``shrink``, ``pad``, ...).
    """
    plt = _pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    axes = ax if isinstance(ax, Sequence) else [ax]
    colorbar = axes[0].figure.colorbar(
        ScalarMappable(Normalize(0, 1), plt.get_cmap("viridis")), ax=ax, ticks=[0, 1], **options
    )
    colorbar.ax.set_yticklabels(["first layer", "last layer"])
    return colorbar
