"""The porting guide's example driver (docs/array_api_port.py) is the one it shows, and it passes the one command."""

import os
import subprocess
import sys

import layca_conformance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")


def test_the_guide_shows_the_example_driver_verbatim():
    with open(os.path.join(DOCS, "array_api_port.py")) as port, open(os.path.join(DOCS, "conformance.md")) as guide:
        assert f"```python\n{port.read()}```" in guide.read()


def test_the_example_driver_passes_every_case(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([DOCS, ROOT, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "layca_conformance", "--driver", "array_api_port:run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"{len(layca_conformance.selected())} passed, 0 failed"
