"""Plots return their Axes and draw what the result holds (Agg backend)."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import simulator as sim  # noqa: E402
from simulator.errors import InvalidValueError, UnknownIdError  # noqa: E402
from simulator.treatments import Treatment, run_treatment  # noqa: E402

CASCADE = """
model cascade
  compartment c = 1
  drug = 0; a = 0; b = 0
  K = 10; n = 1
  A = 1; Ap = 0; B = 1
  R1: A -> Ap; 1/(1 + drug)*A
  R2: Ap -> A; Ap
  R3: -> B; Ap/(1 + ((a + b)/K)^n)
  R4: B -> ; B
end
"""


@pytest.fixture(scope="module")
def model():
    return sim.load_model(CASCADE)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_trajectories_and_conditions(model):
    t = np.linspace(0, 10, 21)
    t0 = run_treatment(model, Treatment({}), t)
    t1 = run_treatment(model, Treatment({"drug": 9.0}), t)
    ax = sim.plot.trajectories([t0, t1], ["Ap", "B"], labels=["none", "drug"])
    assert len(ax.get_lines()) == 4
    assert [tx.get_text() for tx in ax.get_legend().get_texts()] == \
        ["none · Ap", "none · B", "drug · Ap", "drug · B"]
    fig, axes = plt.subplots(1, 2)
    assert sim.plot.conditions({"none": t0, "drug": t1}, "Ap", ax=axes[0]) is axes[0]
    ax = sim.plot.conditions({"none": t0, "drug": t1}, "Ap", ax=axes[1], kind="bar")
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [t0["Ap"][-1], t1["Ap"][-1]])
    with pytest.raises(UnknownIdError, match="did you mean 'Ap'"):
        sim.plot.trajectories(t0, "App")


def test_dose_response_plot_marks_failures(model):
    dr = sim.dose_response(model, "drug", [0.1, 1, 10, 100], readout="Ap", at_time=20.0)
    ax = dr.plot()
    xs = ax.get_lines()[0].get_xdata()
    assert len(xs) == 5 and xs[0] == pytest.approx(0.01)   # control drawn left of 0.1
    assert any("IC50" in tx.get_text() for tx in ax.texts)
    blow = sim.load_model("""
        model blow
          a = 0; X = 1
          R: -> X; a*X^2
        end""")
    dr = sim.dose_response(blow, "a", [0.01, 0.1, 1.0], readout="X", at_time=2.0,
                           equilibrate=False, fit=False)
    ax = sim.plot.dose_response(dr)
    failed = [ln for ln in ax.get_lines() if ln.get_label() == "failed run"]
    assert len(failed) == 1 and list(failed[0].get_xdata()) == [1.0]


def test_synergy_map_and_isobologram(model):
    doses = [1, 3, 10, 30, 100]
    combo = sim.combination(model, ("a", doses), ("b", doses), readout="B", at_time=30.0)
    ax = combo.plot_heatmap("loewe")
    assert "Loewe" in ax.get_title() and f"{combo.loewe.score:.1f}" in ax.get_title()
    img = ax.get_images()[0].get_array()
    assert img.shape == (6, 6)
    ax = sim.plot.synergy_map(combo, "bliss")
    assert ax.get_images()[0].get_array()[3, 2] == pytest.approx(combo.bliss.matrix[2, 3])
    ax = combo.plot_isobologram(level=50)
    line = [ln for ln in ax.get_lines() if ln.get_label() == "Loewe additivity"][0]
    # identical drugs: the 50 % isobole is the additivity line a + b = K = 10
    np.testing.assert_allclose(line.get_xdata(), [10.0, 0.0], rtol=1e-3)
    pts = [ln for ln in ax.get_lines() if ln.get_label().startswith("observed")][0]
    assert np.allclose(pts.get_xdata() + pts.get_ydata(), 10.0, rtol=0.05)
    with pytest.raises(InvalidValueError, match="between 0 and 100"):
        sim.plot.isobologram(combo, level=150)
    small = sim.combination(model, ("a", [1.0]), ("b", [1.0]), readout="B", at_time=5.0,
                            methods=("bliss",))
    with pytest.raises(InvalidValueError, match="'zip' is not available"):
        sim.plot.synergy_map(small, "zip")


def test_network_colours_activity(model):
    ss = sim.steady_state(model)
    tr = run_treatment(model, Treatment({"drug": 9.0}), [0, 50])
    ax = sim.plot.network(model, tr, reference=ss)
    boxes = {t.get_text(): t.get_bbox_patch().get_facecolor() for t in ax.texts
             if t.get_bbox_patch() is not None}
    assert set(boxes) == {"A", "Ap", "B"}
    r, g, b_, _ = boxes["A"]     # A goes up under the drug: red
    assert r > b_
    r, g, b_, _ = boxes["Ap"]    # Ap and B go down: blue
    assert b_ > r
    ax = sim.plot.network(model)  # structure only: grey boxes
    boxes = [t.get_bbox_patch().get_facecolor() for t in ax.texts if t.get_bbox_patch()]
    assert len(boxes) == 3 and all(c[0] == c[1] == c[2] for c in boxes)
    with pytest.raises(UnknownIdError):
        sim.plot.network(model, readout_values={"nope": 1.0})


def test_network_bundled_model():
    model = sim.load_model()
    ax = sim.plot.network(model)
    names = {t.get_text() for t in ax.texts}
    assert {"ER", "pS6K1", "pERK", "Akt_TS"} <= names
