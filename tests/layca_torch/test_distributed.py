"""layca_torch.Layca on distributed models (DDP, FSDP2, tensor parallel) against one process on the whole batch.

One fixture starts two CPU processes (gloo over 127.0.0.1 only, bounded in time) running this
file as a script, every run of every scenario in them; each rank saves every iterate of every parameter as a full tensor, and the
parent compares them with single-process training, checks the per-step angles and the initial
norms, and counts the all-reduces the optimizer issued.
"""

import math
import os
import socket
import subprocess
import sys
import time
import traceback
from datetime import timedelta
from unittest import mock

import pytest

torch = pytest.importorskip("torch")

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from tests.layca_torch.test_optimizer import BASES  # noqa: E402

dist = torch.distributed
LOOPBACK = {"linux": "lo", "darwin": "lo0"}.get(sys.platform)
pytestmark = [
    pytest.mark.skipif(
        not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is not available"
    ),
    pytest.mark.skipif(LOOPBACK is None, reason=f"no known loopback interface for gloo on {sys.platform}"),
]

WORLD, STEPS, BATCH = 2, 3, 8
LR, ALPHA, OTHER_LR = 0.1, -0.4, 0.05
TIMEOUT_S = 20  # each collective
PROCESS_TIMEOUT_S = 120  # each rank, every run included
WIDTHS = (6, 8, 5, 3, 1)  # the last layers shard unevenly over 2 ranks: 3 rows as 2 + 1, 1 row as 1 + 0
DEEP = (6, 8, 8, 8, 8, 8, 8, 5, 1)
WIDE = (6, 160, 128, 3, 1)  # 160 x 128 weights: the compiled executor's kernels, on the local shards
REDUCTIONS = {"layca": 3, "lars": 2}  # per step: the step's largest entries, then (|w|^2, <w,s>), then |s_perp|^2
NORM_READS = 2  # at the first step, for all layers at once: their largest entries, then their scaled |w|^2


def per_step(variant):
    """The all-reduces of each step: the reductions, and at the first step the reads of the layers' norms."""
    return [REDUCTIONS[variant] + NORM_READS] + [REDUCTIONS[variant]] * (STEPS - 1)


FSDP_RUNS = {
    **{base: {"base": base, **hyper} for base, hyper in BASES.items()},
    "lars": {"base": "momentum", "momentum": 0.9, "variant": "lars"},
    "adam, foreach=False": {"base": "adam", "foreach": False},
    "sgd, 8 layers": {"base": "sgd", "widths": DEEP},
    "momentum, maximize, freeze_others": {"base": "momentum", "maximize": True, "freeze_others": True},
    "momentum, fused, a wide layer": {"base": "momentum", "momentum": 0.9, "fused": True, "widths": WIDE},
}
HSDP_RUNS = {"momentum": {"base": "momentum", "momentum": 0.9}}
TP_RUNS = {
    "momentum": {"base": "momentum", "momentum": 0.9},
    "adam, tensor lr": {"base": "adam", "lr": torch.tensor(LR)},
    "momentum, foreach=False": {"base": "momentum", "momentum": 0.9, "foreach": False},
}
DDP_RUNS = {"nesterov": {"base": "nesterov", "momentum": 0.9}}


def make_model(widths):
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


def batches():
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(BATCH, 6, generator=generator), torch.randn(BATCH, 1, generator=generator)) for _ in range(STEPS)
    ]


def optimizer_for(model, options):
    options = {k: v for k, v in options.items() if k != "widths"}
    return layca_torch.Layca(model.parameters(), **{"lr": LR, "alpha": ALPHA, "other_lr": OTHER_LR, **options})


def full(tensor):
    tensor = tensor.detach()
    return (tensor.full_tensor() if isinstance(tensor, dist.tensor.DTensor) else tensor).clone()


def train(model, optimizer, rows=slice(None)):
    """The iterates (every parameter, full), the all-reduces issued by each ``optimizer.step``, the initial norms."""
    placements = str([getattr(p, "placements", None) for p in model.parameters()])
    iterates, reductions = [[full(p) for p in model.parameters()]], []
    for x, y in batches():
        optimizer.zero_grad()
        (model(x[rows]) - y[rows]).square().mean().backward()
        reductions.append(_all_reduces_in(optimizer.step))
        iterates.append([full(p) for p in model.parameters()])
    return {
        "iterates": iterates,
        "reductions": reductions,
        "init_norms": init_norms(optimizer),
        "placements": placements,
    }


def _all_reduces_in(step):
    with mock.patch.object(dist, "all_reduce", wraps=dist.all_reduce) as all_reduce:
        step()
    return all_reduce.call_count


def half(rank):
    """The rows of the batch that ``rank`` trains on (data parallel)."""
    return slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)


def init_norms(optimizer):
    """Each layer's reference norm, read at the first step (a sharded layer's global norm)."""
    return [float(optimizer.state[p]["init_norm"]) for g in optimizer.param_groups for p in g["params"] if p.ndim >= 2]


def run_ddp(options, rank, mesh):
    model = torch.nn.parallel.DistributedDataParallel(make_model(WIDTHS))
    return train(model, optimizer_for(model, options), half(rank))


def run_fsdp(options, rank, mesh):
    from torch.distributed.fsdp import fully_shard

    model = make_model(options.get("widths", WIDTHS))
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    result = train(model, optimizer_for(model, options), half(rank))
    return {**result, "empty shards": sum(p.to_local().numel() == 0 for p in model.parameters())}


def run_hsdp(options, rank, mesh):
    """FSDP2 on a 2-D mesh: replicated over the ranks (``Replicate()``), sharded over a dimension of size 1."""
    from torch.distributed.device_mesh import init_device_mesh

    return run_fsdp(options, rank, init_device_mesh("cpu", (WORLD, 1), mesh_dim_names=("replicate", "shard")))


def run_tensor_parallel(options, rank, mesh):
    """Colwise (``Shard(0)``), rowwise (``Shard(1)``), replicated (``Replicate()``) and plain layers in one model."""
    from torch.distributed.tensor import DTensor, Replicate, distribute_module
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    model = make_model(WIDTHS)
    parallelize_module(model, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
    distribute_module(
        model[4],
        mesh,
        input_fn=lambda module, inputs, mesh: tuple(DTensor.from_local(x, mesh, [Replicate()]) for x in inputs),
        output_fn=lambda module, output, mesh: output.to_local(),
    )
    return train(model, optimizer_for(model, options))


SCENARIOS = {
    "ddp": (run_ddp, DDP_RUNS),
    "fsdp": (run_fsdp, FSDP_RUNS),
    "hsdp": (run_hsdp, HSDP_RUNS),
    "tensor parallel": (run_tensor_parallel, TP_RUNS),
}


def worker(rank, port, listener, directory):
    """One rank: every run of every scenario, its results (or its traceback) saved in ``directory``.

    Rank 0 serves the store on the socket ``listener`` that the parent bound to 127.0.0.1; gloo
    binds to the loopback interface (``GLOO_SOCKET_IFNAME``).
    """
    from torch.distributed.device_mesh import init_device_mesh

    torch.set_num_threads(1)
    timeout = timedelta(seconds=TIMEOUT_S)
    store = dist.TCPStore(
        "127.0.0.1", port, WORLD, is_master=rank == 0, timeout=timeout, master_listen_fd=listener if rank == 0 else None
    )
    dist.init_process_group("gloo", store=store, rank=rank, world_size=WORLD, timeout=timeout)
    mesh, results = init_device_mesh("cpu", (WORLD,)), {}
    for scenario, (run, runs) in SCENARIOS.items():
        for name, options in runs.items():
            try:
                results[scenario, name] = run(options, rank, mesh)
            except Exception:
                results[scenario, name] = {"error": traceback.format_exc()}
    torch.save(results, os.path.join(directory, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every run on ``WORLD`` processes, one dict per rank."""
    directory = tmp_path_factory.mktemp("ranks")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "GLOO_SOCKET_IFNAME": LOOPBACK,
        "OMP_NUM_THREADS": "1",
    }
    processes = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port, fd = listener.getsockname()[1], listener.fileno()
        for rank in range(WORLD):
            with open(directory / f"rank{rank}.log", "w") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, __file__, str(rank), str(port), str(fd), str(directory)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        pass_fds=[fd] if rank == 0 else [],
                    )
                )
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    try:
        codes = [process.wait(timeout=max(deadline - time.monotonic(), 0)) for process in processes]
    finally:
        for process in processes:
            process.kill()
    failed = {rank: (directory / f"rank{rank}.log").read_text()[-2000:] for rank, code in enumerate(codes) if code}
    assert not failed, f"ranks failed: {failed}"
    return [torch.load(directory / f"rank{rank}.pt") for rank in range(WORLD)]


def ranks_of(results, scenario, run):
    """The run's results on every rank; a run that raised fails the test with its traceback."""
    ranks = [r[scenario, run] for r in results]
    errors = [r["error"] for r in ranks if "error" in r]
    assert not errors, errors[0]
    return ranks


def reference(widths, options):
    """Single-process training on the whole batch."""
    model = make_model(widths)
    return train(model, optimizer_for(model, options))


def check_against_reference(ranks, options):
    widths = options.get("widths", WIDTHS)
    expected = reference(widths, options)
    layers = [i for i, p in enumerate(expected["iterates"][0]) if p.ndim >= 2]
    multipliers = layca_core.alpha_multipliers(len(layers), ALPHA)
    for result in ranks:
        assert result["init_norms"] == pytest.approx(expected["init_norms"], rel=1e-6) and expected["init_norms"]
        for step, (got, want) in enumerate(zip(result["iterates"], expected["iterates"], strict=True)):
            for got_p, want_p in zip(got, want, strict=True):
                torch.testing.assert_close(
                    got_p, want_p, rtol=2e-5, atol=2e-6, msg=lambda m, step=step: f"step {step}: {m}"
                )
        if options.get("variant", "layca") == "layca":
            for before, after in zip(result["iterates"], result["iterates"][1:]):
                angles = [float(layca_core.step_angle(before[i].double(), after[i].double())) for i in layers]
                assert angles == pytest.approx([math.atan(LR * m) for m in multipliers], rel=1e-4)


@pytest.mark.parametrize("run", sorted(DDP_RUNS))
def test_ddp_matches_one_process_on_the_whole_batch(results, run):
    ranks = ranks_of(results, "ddp", run)
    check_against_reference(ranks, DDP_RUNS[run])
    assert all(r["reductions"] == [0] * STEPS for r in ranks)  # DDP averaged the gradients already


@pytest.mark.parametrize("run", list(FSDP_RUNS))
def test_fsdp2_matches_one_process_on_the_whole_batch(results, run):
    ranks = ranks_of(results, "fsdp", run)
    check_against_reference(ranks, FSDP_RUNS[run])
    assert [r["empty shards"] for r in ranks] == [0, 2]  # rank 1 holds no row of the 1-row layer and its bias


@pytest.mark.parametrize("run", sorted(HSDP_RUNS))
def test_hsdp_matches_one_process_on_the_whole_batch(results, run):
    ranks = ranks_of(results, "hsdp", run)
    check_against_reference(ranks, HSDP_RUNS[run])
    assert all(r["placements"].count("(Replicate(), Shard(dim=0))") == 8 for r in ranks)
    assert all(r["reductions"] == per_step("layca") for r in ranks)  # not one per mesh dimension


@pytest.mark.parametrize("run", sorted(TP_RUNS))
def test_tensor_parallel_matches_one_process(results, run):
    ranks = ranks_of(results, "tensor parallel", run)
    check_against_reference(ranks, TP_RUNS[run])
    for result in ranks:
        assert result["placements"].count("Shard(dim=0)") == 2  # column-parallel weight and bias
        assert result["placements"].count("Shard(dim=1)") == 1  # row-parallel weight
        assert result["placements"].count("Replicate()") == 3  # row-parallel bias, replicated weight and bias
        assert result["placements"].count("None") == 2  # a plain layer among them


@pytest.mark.parametrize(
    ("scenario", "run"), [("fsdp", "sgd"), ("fsdp", "sgd, 8 layers"), ("fsdp", "lars"), ("tensor parallel", "momentum")]
)
def test_one_all_reduce_per_reduction_for_all_layers(results, scenario, run):
    variant = SCENARIOS[scenario][1][run].get("variant", "layca")
    for rank in ranks_of(results, scenario, run):
        layers = sum(p.ndim >= 2 for p in rank["iterates"][0])
        assert rank["reductions"] == per_step(variant)
        assert REDUCTIONS[variant] < layers


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
