"""A run killed with ``SIGKILL`` after a checkpoint resumes in a new process (the recipe of
``docs/monitoring.md``) with the rotation curves and weights of a run never interrupted."""

import os
import signal
import subprocess
import sys
import time

import torch

import layca_torch

STEPS, KILL_AFTER = 10, 4
SLOW_S = 1.0  # each step after KILL_AFTER, so that the kill comes mid-training
TIMEOUT_S = 120


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def save(path, model, optimizer, monitor, step):
    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "monitor": monitor.state_dict(),
         "step": step},
        f"{path}.tmp",
    )  # fmt: skip
    os.replace(f"{path}.tmp", path)


def train(directory, slow):
    """The recipe: resume from ``directory``'s checkpoint if there is one, checkpoint after every step."""
    torch.set_num_threads(1)
    path = os.path.join(directory, "checkpoint.pt")
    model = net()
    optimizer = layca_torch.Layca(model.parameters(), lr=0.1, base="momentum", momentum=0.9)
    monitor = layca_torch.RotationMonitor(model)
    start = 0
    if os.path.exists(path):
        checkpoint = torch.load(path)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        monitor.load_state_dict(checkpoint["monitor"])
        start = checkpoint["step"]
    for step in range(start, STEPS):
        generator = torch.Generator().manual_seed(step)
        optimizer.zero_grad()
        model(torch.randn(16, 6, generator=generator)).square().mean().backward()
        optimizer.step()
        monitor.record(step=step + 1)
        save(path, model, optimizer, monitor, step + 1)
        if slow and step + 1 >= KILL_AFTER:
            time.sleep(SLOW_S)
    torch.save(
        {"distances": monitor.history.distances, "steps": monitor.history.steps, "start": start,
         "weights": [p.detach() for p in model.parameters()]},
        os.path.join(directory, "result.pt"),
    )  # fmt: skip


def start(directory, slow):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, __file__, str(directory), "slow" if slow else "fast"], env=env)


def checkpointed_step(directory):
    try:
        return torch.load(directory / "checkpoint.pt")["step"]
    except (FileNotFoundError, EOFError, RuntimeError):
        return 0


def test_a_sigkilled_run_resumes_with_the_curves_of_an_uninterrupted_run(tmp_path):
    crashed, uninterrupted = tmp_path / "crashed", tmp_path / "uninterrupted"
    crashed.mkdir(), uninterrupted.mkdir()
    process, deadline = start(crashed, slow=True), time.monotonic() + TIMEOUT_S
    try:
        while checkpointed_step(crashed) < KILL_AFTER and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=TIMEOUT_S) == -signal.SIGKILL
    finally:
        process.kill()
    killed_at = checkpointed_step(crashed)
    assert KILL_AFTER <= killed_at < STEPS and not (crashed / "result.pt").exists()
    for directory in (crashed, uninterrupted):
        assert start(directory, slow=False).wait(timeout=TIMEOUT_S) == 0
    resumed, reference = torch.load(crashed / "result.pt"), torch.load(uninterrupted / "result.pt")
    assert resumed["start"] == killed_at and reference["start"] == 0
    assert resumed["steps"] == reference["steps"] == list(range(1, STEPS + 1))
    assert resumed["distances"] == reference["distances"]
    assert min(reference["distances"][-1]) > 0.01
    for got, want in zip(resumed["weights"], reference["weights"], strict=True):
        assert torch.equal(got, want)


if __name__ == "__main__":
    train(sys.argv[1], slow=sys.argv[2] == "slow")
