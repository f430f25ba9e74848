"""A study's figures: test accuracy against final layer rotation, and layer rotation curves over seeds.

Bars and bands are 95% t intervals over seeds (``examples.stats``), as in the tables.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats as scipy_stats  # noqa: E402

from examples import stats  # noqa: E402
from examples.claims import accuracy, mean_final_rotation  # noqa: E402
from layca_core.plotting import layer_colorbar  # noqa: E402

FAMILIES = (("Adam + Layca", "tab:purple"), ("Adam", "tab:red"), ("SGD", "tab:blue"), ("Layca", "tab:green"))
MARKERS = ("o", "s", "^", "D", "v", "P")


def _color(name: str) -> str:
    return next(color for family, color in FAMILIES if name.startswith(family))


def rotation_accuracy(found: dict[str, dict[int, dict]], path: Path, title: str) -> None:
    """One point per configuration: mean final rotation (mean over layers) against test accuracy, both with bars.

    Colour tells the family (SGD, Adam, Adam + Layca, Layca), the marker the configuration within it (legend).
    """
    figure, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    used: dict[str, int] = {}
    for name, by_seed in found.items():
        rotation = stats.estimate(mean_final_rotation(record) for record in by_seed.values())
        test = stats.estimate(accuracy(found, name).values())
        color = _color(name)
        used[color] = used.get(color, -1) + 1
        ax.errorbar(
            rotation.mean,
            test.mean,
            xerr=[[rotation.mean - rotation.low], [rotation.high - rotation.mean]],
            yerr=[[test.mean - test.low], [test.high - test.mean]],
            fmt=MARKERS[used[color] % len(MARKERS)],
            color=color,
            capsize=3,
            markersize=7,
            label=name,
        )
    ax.set(xlabel="final layer rotation (cosine distance, mean over layers)", ylabel="test accuracy (%)")
    ax.set_xlim(0, 1)
    ax.set_ylim(top=100.5)  # an interval over few seeds can pass 100%
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title="configuration")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and its pointwise 95% t interval."""
    n = len(curves)
    mean = curves.mean(axis=0)
    half = scipy_stats.t.ppf(0.975, n - 1) * curves.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def _test_accuracy(found: dict[str, dict[int, dict]], name: str) -> str:
    test = stats.estimate(accuracy(found, name).values())
    return f"test {test.mean:.1f}% [{test.low:.1f}, {test.high:.1f}], n={test.n}"


def rotation_curves(
    found: dict[str, dict[int, dict]], path: Path, title: str, marks=(), columns: int = 5, subtitle=_test_accuracy
) -> None:
    """One panel per configuration: each layer's rotation curve, mean over seeds, with its 95% band.

    ``subtitle(found, name)``: the line under each panel's name (default: test accuracy with its interval).
    """
    rows = -(-len(found) // columns)
    size = (3 * columns + 1, 2.8 * rows)
    figure, axes = plt.subplots(rows, columns, figsize=size, layout="constrained", squeeze=False)
    cmap = plt.get_cmap("viridis")
    panels = list(axes.flat)
    for ax, (name, by_seed) in zip(panels, found.items()):
        records = list(by_seed.values())
        epochs = records[0]["curves"]["epoch"]
        curves = np.array([r["curves"]["rotation"] for r in records])  # seeds x epochs x layers
        layers = curves.shape[2]
        for epoch in marks:
            ax.axvline(epoch, color="0.6", linestyle=":", linewidth=1.0)
        for layer in range(layers):
            mean, low, high = _band(curves[:, :, layer])
            color = cmap(layer / max(layers - 1, 1))
            ax.fill_between(epochs, np.clip(low, 0, 1), np.clip(high, 0, 1), color=color, alpha=0.3, linewidth=0)
            ax.plot(epochs, mean, color=color, linewidth=1.2)
        ax.set(xlim=(0, epochs[-1]), ylim=(0, 1), xlabel="epoch", ylabel="cosine distance to init")
        ax.set_title(f"{name}\n{subtitle(found, name)}", fontsize=9)
    for ax in panels[len(found) :]:
        ax.axis("off")
    layer_colorbar(panels[: len(found)], pad=0.01, fraction=0.02)
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def loss_curves(found: dict[str, dict[int, dict]], panels: dict[str, list[str]], path: Path, title: str) -> None:
    """One panel per group of ``panels`` (title -> configuration names): validation loss per epoch, mean over seeds,
    with its 95% band."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), layout="constrained", squeeze=False)
    for ax, (panel, names) in zip(axes.flat, panels.items()):
        for index, name in enumerate(names):
            records = list(found[name].values())
            curves = np.array([r["curves"]["val_loss"] for r in records])
            mean, low, high = _band(curves)
            epochs = records[0]["curves"]["epoch"]
            color = plt.get_cmap("tab10")(index % 10)
            ax.fill_between(epochs, low, high, color=color, alpha=0.25, linewidth=0)
            ax.plot(epochs, mean, color=color, linewidth=1.3, label=f"{name} ({mean[-1]:.3f})")
        ax.set(xlabel="epoch", ylabel="validation loss (nats per token)", title=panel)
        ax.set_ylim(top=min(ax.get_ylim()[1], 3.0))
        ax.grid(alpha=0.3)
        legend = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16), "ncol": 2}  # below: curves stay visible
        ax.legend(fontsize=7, title="final mean in brackets", title_fontsize=7, **legend)
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=100)
    plt.close(figure)
