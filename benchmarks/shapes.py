"""Parameter shapes of the benchmarked models (no model code: shapes are all an optimizer sees)."""


def resnet50() -> list[tuple[int, ...]]:
    """torchvision's ResNet-50: 161 tensors, 25,557,032 parameters."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    channels = 64
    for blocks, width in ((3, 64), (4, 128), (6, 256), (3, 512)):
        for block in range(blocks):
            for conv in ((width, channels, 1, 1), (width, width, 3, 3), (4 * width, width, 1, 1)):
                shapes += [conv, (conv[0],), (conv[0],)]
            if block == 0:
                shapes += [(4 * width, channels, 1, 1), (4 * width,), (4 * width,)]
            channels = 4 * width
    return shapes + [(1000, 2048), (1000,)]


def gpt2_small() -> list[tuple[int, ...]]:
    """Hugging Face's GPT-2 small: 148 tensors, 124,439,808 parameters."""
    d = 768
    block = [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return [(50257, d), (1024, d), *block * 12, (d,), (d,)]


def many_small() -> list[tuple[int, ...]]:
    """800 tensors: 400 dense 32x32 layers and their biases (launch and Python overhead dominate)."""
    return [(32, 32), (32,)] * 400


SETS = {"resnet50": resnet50, "gpt2-small": gpt2_small, "many-small": many_small}


def arrays(shape_set: str) -> tuple[list, list]:
    """Float32 NumPy weights (scaled like a fan-in init) and gradients for one shape set, seed 0."""
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = SETS[shape_set]()
    weights = [rng.standard_normal(s, dtype=np.float32) / np.sqrt(s[-1]) for s in shapes]
    return weights, [rng.standard_normal(s, dtype=np.float32) for s in shapes]
