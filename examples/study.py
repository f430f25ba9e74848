"""Run a study: every configuration from every seed, in parallel processes, resumable; then its claims.

One JSON file per run under ``OUT_DIR/NAME/<framework>/<configuration>/seed<k>.json`` (``NAME-quick`` with
``--quick``); a rerun trains only what is missing or stale (another study version, or code whose numerics
fingerprint, ``examples/fingerprint.py``, differs from the one a run recorded). Frameworks other than torch train the study's
cross-framework configurations with at most its ``cross_seeds`` seeds (claim C5).

    python -m examples.study mnist1d [--seeds 5] [--framework torch jax keras-jax] [--jobs 2] [--quick]
"""

import argparse
import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from examples import claims, experiment, fingerprint, runs, studies
from examples.studies import Study

DEFAULT_OUT = Path("results/studies")


def study_dir(out_dir: Path, name: str, quick: bool) -> Path:
    return out_dir / (f"{name}-quick" if quick else name)


def plan_runs(
    study: Study, frameworks: list[str], seeds: int, out_dir: Path, only: list[str] | None = None
) -> tuple[list[tuple], int]:
    """The runs to train (seed by seed, so early seeds finish first) and how many are already done.

    ``only``: configuration names to restrict the study to (all when None).
    """
    todo, done = [], 0
    for framework in frameworks:
        framework_seeds = seeds if framework == "torch" else min(seeds, study.cross_seeds)
        configs = [c for c in study.configs_for(framework) if only is None or c.name in only]
        for seed in range(framework_seeds):
            for config in configs:
                file = runs.path(out_dir, framework, config, seed)
                if runs.finished(file, runs.key(study, framework, config, seed)) and runs.current(
                    file, fingerprint.measure(framework)
                ):
                    done += 1
                else:
                    todo.append((framework, config, seed))
    return todo, done


def run_all(
    study: Study, todo: list[tuple], done: int, jobs: int, out_dir: Path, data_dir: str | None, device: str | None
) -> None:
    """Train ``todo`` in ``jobs`` processes per framework (Keras fixes its backend per process); show progress."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    bar_format = "{desc}: {n}/{total} runs done [{elapsed} elapsed, {remaining} left]"
    with tqdm(total=done + len(todo), initial=done, desc=study.name, bar_format=bar_format, file=sys.stdout) as bar:
        for framework in dict.fromkeys(framework for framework, _, _ in todo):
            mine = [(config, seed) for f, config, seed in todo if f == framework]
            context = get_context("spawn")
            with ProcessPoolExecutor(jobs, context, initializer=runs.prepare, initargs=(framework, threads)) as pool:
                futures = {}
                for config, seed in mine:
                    numerics = fingerprint.measure(framework)
                    arguments = (study, framework, config, seed, out_dir, numerics, data_dir, device)
                    future = pool.submit(runs.train_and_save, *arguments)
                    futures[future] = (config, seed)
                for future in as_completed(futures):
                    config, seed = futures[future]
                    try:
                        wall = future.result()
                    except Exception as error:
                        raise RuntimeError(f"{framework} run {config.name!r} seed {seed} failed: {error}") from error
                    bar.set_description_str(f"{study.name} ({framework}, last {wall:.0f} s)")
                    bar.update()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(studies.STUDIES), help="the study (examples/studies.py)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5; 2 with --quick)")
    parser.add_argument("--framework", nargs="+", choices=experiment.FRAMEWORKS, default=["torch"])
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process")
    parser.add_argument("--quick", action="store_true", help="the study's small task, 2 seeds (for CI)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT, help="results root (default results/studies)")
    parser.add_argument("--data-dir", default=None, help="CIFAR-10's extracted cifar-10-batches-py folder")
    parser.add_argument("--device", default=None, help="torch's device, e.g. cuda (CIFAR-10 on a GPU machine)")
    parser.add_argument("--configs", nargs="+", default=None, metavar="NAME", help="train only these configurations")
    args = parser.parse_args(argv)
    known = [c.name for c in studies.STUDIES[args.name].configs]
    unknown = [name for name in args.configs or () if name not in known]
    if unknown:
        parser.error(f"--configs: {args.name} has no {', '.join(map(repr, unknown))}; it has {', '.join(known)}.")
    args.seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (intervals over seeds need two); got {args.seeds}.")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}.")
    if args.device is not None and args.framework != ["torch"]:
        parser.error(f"--device is for --framework torch alone; got --framework {' '.join(args.framework)}.")
    if "keras" in args.framework:
        backends = "keras-tensorflow, keras-jax or keras-torch"
        parser.error(f"--framework keras depends on KERAS_BACKEND; name the backend: {backends}.")
    return args


def main(argv: list[str] | None = None) -> list[claims.Claim]:
    args = parse(argv)
    study = studies.get(args.name, quick=args.quick)
    out_dir = study_dir(args.out_dir, study.name, args.quick)
    todo, done = plan_runs(study, args.framework, args.seeds, out_dir, args.configs)
    print(f"{study.name} v{study.version}: {done} runs done, {len(todo)} to train, {args.jobs} at a time in {out_dir}")
    run_all(study, todo, done, args.jobs, out_dir, args.data_dir, args.device)
    if args.configs:
        return []
    command = "python -m examples.study " + shlex.join(sys.argv[1:] if argv is None else argv)
    verdicts = claims.evaluate(study, out_dir, command, command)
    print(claims.table(verdicts))
    return verdicts


if __name__ == "__main__":
    main()
