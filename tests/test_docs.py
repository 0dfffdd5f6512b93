"""The teaching material runs: the tutorial notebook top to bottom, every user-guide example."""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "user_guide.md"
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"


def _env():
    env = dict(os.environ, MPLBACKEND="Agg")
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    # `crosstalk` resolves to this interpreter's console script
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def blocks(kind):
    """Fenced blocks of one kind (```python / ```console) in the user guide, in order."""
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_guide_has_examples():
    assert len(blocks("python")) >= 5 and len(blocks("console")) >= 6


def test_guide_console_examples(tmp_path):
    for block in blocks("console"):
        lines = block.strip().splitlines()
        commands = [(i, line[2:]) for i, line in enumerate(lines) if line.startswith("$ ")]
        for k, (i, command) in enumerate(commands):
            end = commands[k + 1][0] if k + 1 < len(commands) else len(lines)
            shown = lines[i + 1:end]
            res = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=_env(),
                                 capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, f"{command}\n{res.stderr}"
            output = res.stdout + res.stderr
            for line in shown:   # output printed in the guide must be what the command says
                assert line in output, f"{command}: expected {line!r} in\n{output}"
    assert (tmp_path / "out" / "run1" / "trajectory.csv").exists()
    assert (tmp_path / "out" / "atlas" / "index.html").exists()


def test_guide_python_examples(tmp_path):
    script = "\n\n".join(blocks("python"))
    # the calibration example compiles the model with its sensitivities on a cold cache
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    assert "did you mean 'pAkt_S473'?" in res.stdout
    assert "CalibrationProblem(er_crosstalk_example.yaml" in res.stdout
    assert (tmp_path / "fit.png").stat().st_size > 1000
    assert (tmp_path / "figures.png").stat().st_size > 1000


def test_tutorial_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8   # one figure per mechanism at least


def test_tutorial_is_generated_from_its_script():
    """docs/tutorial.ipynb is what docs/make_tutorial.py writes (no hand edits to drift)."""
    nbformat = pytest.importorskip("nbformat")
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import make_tutorial
    finally:
        sys.path.pop(0)
    built = make_tutorial.build()
    saved = nbformat.read(NOTEBOOK, as_version=4)
    assert [c.source for c in built.cells] == [c.source for c in saved.cells]


def test_model_docs_list_every_parameter_as_the_table_has_it():
    """docs/model.md's parameter table is simulator/models/parameters.csv, row for row
    (values and sources change with fits and literature updates; the page must follow)."""
    with open(ROOT / "simulator" / "models" / "parameters.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    text = (ROOT / "docs" / "model.md").read_text()
    start = text.index("| id | value | unit | kind | source |")
    listed = re.findall(r"^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \| ([^|]*) \| (.*) \|$",
                        text[start:].split("\n\n")[0], re.M)
    assert f"All {len(rows)} parameters" in text
    assert [p for p, *_ in listed] == [row["id"] for row in rows]
    for (pid, *cells), row in zip(listed, rows):
        assert [c.strip() for c in cells] == [row[k] for k in ("value", "unit", "kind",
                                                                 "source")], pid
