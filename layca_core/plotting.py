"""Layer rotation curves drawn as in the paper (matplotlib is imported only here, when called)."""

from typing import Any

from layca_core.history import RotationHistory


def plot_layer_rotation(history: RotationHistory, ax: Any = None, title: str | None = None) -> Any:
    """Draw one line per layer, viridis from the first (dark) to the last (yellow) layer.

    Linear axes, x = epoch from 0 (where every distance is 0), y = cosine distance in [0, 1],
    with a colorbar labelled first/last layer. Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if ax is None:
        ax = plt.figure(figsize=(4, 3)).add_subplot()
    epochs, rows = list(history.epochs), list(history.distances)
    if not epochs or epochs[0] > 0:
        epochs, rows = [0.0, *epochs], [[0.0] * len(history.layer_names), *rows]
    layers = len(history.layer_names)
    cmap = plt.get_cmap("viridis")
    for index in range(layers):
        ax.plot(epochs, [row[index] for row in rows], color=cmap(index / max(layers - 1, 1)), linewidth=1.2)
    ax.set_xlim(0, max(epochs[-1], 1e-9))
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cosine distance to init")
    if title:
        ax.set_title(title)
    colorbar = ax.figure.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, ticks=[0, 1])
    colorbar.ax.set_yticklabels(["first layer", "last layer"])
    return ax
