"""The bundled model's example PEtab problem (synthetic data of known parameters): exact
gradients through pre-equilibration on the 42-state model, and a calibration that recovers
the parameters the data were drawn with."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim


@pytest.fixture(scope="module")
def example():
    return sim.load_petab(sim.example_problem())


def test_example_problem_is_packaged_and_consistent(example):
    assert example.model.hash == sim.load_model().hash
    assert example.parameter_ids[:3] == ("kdp_S6K1", "IC50_alpelisib_a", "k_mTORC1_act")
    assert np.isfinite(example.nllh())


def test_example_gradient_matches_finite_differences(example):
    x = example.x_nominal + np.random.default_rng(3).normal(0, 0.1, example.x_nominal.size)
    _, g = example.nllh(x, gradient=True, strict=True)
    h = 1e-5
    fd = np.array([(example.nllh(x + h * e) - example.nllh(x - h * e)) / (2 * h)
                   for e in np.eye(x.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_example_calibration_recovers_the_parameters(example):
    result = sim.calibrate(example, n_starts=2, seed=0, progress=False)
    assert result.best_nllh < example.nllh() - 1.0      # the fit beats the truth on noisy data
    truth = example.x_nominal[:3]                         # log10 of the model's own values
    np.testing.assert_allclose(result.best_x[:3], truth, atol=0.35)
