"""The package as a user installs it: build the wheel, install it into a new virtual
environment, and run the bundled model and the atlas from an empty directory.

The new environment reuses this one's dependencies (a path entry to its site-packages,
``--no-deps``), so the test needs no network and no second download of numba or sympy.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from simulator.bundled import behaviors

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(wheel, bin dir, env)`` of the wheel installed into a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"             # a copy: the build writes build/ and egg-info next to it
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("simulator", "experiments"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", tmp / "dist", src])
    wheel = next((tmp / "dist").glob("crosstalk-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    # this environment's dependencies, but not its (editable) crosstalk
    Path(site.stdout.strip(), "test_env_deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel])
    env = dict(os.environ, MPLBACKEND="Agg", NUMBA_CACHE_DIR=str(tmp / "numba"),
               CROSSTALK_CACHE_DIR=str(tmp / "models"),
               PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    return wheel, bin_dir, env


def test_wheel_holds_every_module_and_the_model_data(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "simulator").rglob("*.py")}
    sources |= {f"simulator/experiments/{p.name}" for p in (ROOT / "experiments").glob("*.py")}
    data = {p.relative_to(ROOT).as_posix() for p in (ROOT / "simulator" / "models").rglob("*")
            if p.is_file()}
    assert sources - names == set(), "modules missing from the wheel (pyproject.toml packages)"
    assert data - names == set(), "model files missing from the wheel (package-data)"
    assert not [n for n in names if n.startswith("tests/")]


def test_installed_package_simulates_and_runs_the_atlas(installed, tmp_path):
    _, bin_dir, env = installed
    work = tmp_path / "empty"
    work.mkdir()
    res = _run([bin_dir / "python", "-c",
                "import simulator as sim; m = sim.load_model(); tr = sim.simulate(m, [0, 1]); "
                "print(sim.__file__, m.catalog.reset_at_start, tr.success)"], cwd=work, env=env)
    assert str(ROOT) not in res.stdout and "site-packages" in res.stdout
    assert "('tumor_burden',) True" in res.stdout
    res = _run([bin_dir / "crosstalk", "atlas", "--quick", "--out", "atlas"], cwd=work, env=env)
    n = len(behaviors.BEHAVIORS)
    assert f"{n - len(behaviors.KNOWN_FAILURES)} of {n} behaviours reproduced" in res.stdout
    assert (work / "atlas" / "index.html").exists()
    assert (work / "atlas" / "her2_tamoxifen_resistance.png").exists()   # an experiment ran
