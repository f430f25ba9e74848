"""Compile time of ``torch.compile(optimizer.step)``: Layca's default step against torch's foreach optimizers.

    TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 python -m benchmarks.torch_compile_time OPTIMIZER [--layers 161] [--threads 1]

OPTIMIZER is one of ``sgd``, ``adam``, ``layca-momentum``, ``layca-adam``; ``--layers`` takes the last N of
ResNet-50's 161 parameter shapes. Prints the seconds of the first three calls of the compiled step (with inductor's
caches off every compilation is cold), then twice the median of 5 compiled and of 5 eager steps.
"""

import argparse
import statistics
import time
from collections.abc import Callable

from benchmarks.timing import pin_threads

OPTIMIZERS = ("sgd", "adam", "layca-momentum", "layca-adam")


def _optimizer(name: str, layers: int) -> object:
    import torch

    import layca_torch
    from benchmarks import shapes

    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s) / s[-1] ** 0.5) for s in shapes.resnet50()[-layers:]]
    for p in params:
        p.grad = torch.randn(p.shape)
    make = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=True),
        "adam": lambda: torch.optim.Adam(params, lr=1e-3, foreach=True),
        "layca-momentum": lambda: layca_torch.Layca(params, base="momentum", momentum=0.9),
        "layca-adam": lambda: layca_torch.Layca(params, base="adam"),
    }
    return make[name]()


def _median_ms(step: Callable[[], object], steps: int = 5) -> float:
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("optimizer", choices=OPTIMIZERS)
    parser.add_argument("--layers", type=int, default=161, help="the last N of ResNet-50's 161 parameter shapes")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import torch

    compiled = torch.compile(_optimizer(args.optimizer, args.layers).step)
    eager = _optimizer(args.optimizer, args.layers).step
    for call in (1, 2, 3):
        start = time.perf_counter()
        compiled()
        print(f"call {call}: {time.perf_counter() - start:.1f} s", flush=True)
    eager()
    for _ in range(2):
        print(f"compiled step {_median_ms(compiled):.1f} ms, eager step {_median_ms(eager):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
