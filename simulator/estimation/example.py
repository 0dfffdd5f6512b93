"""A small PEtab problem on the bundled model, with synthetic data of known parameters.

MCF-7-like cells at their untreated steady state (PEtab pre-equilibration) are treated with
everolimus (1 nM), alpelisib (5 or 50 nM, around its IC50 on p110-alpha) or both;
western-blot-like readouts of phospho-S6 and phospho-Akt (S473) are taken at 0.5 to 48 h,
each in arbitrary units (an unknown scale per observable) with Gaussian noise of 10 % of the
observable's mean. Three model parameters are to be recovered, with the scales and noise
levels:

- ``kdp_S6K1``: S6K1 dephosphorylation;
- ``IC50_alpelisib_a``: alpelisib's potency on p110-alpha;
- ``k_mTORC1_act``: mTORC1 activation through TSC2/Rheb.

The data are drawn at the model's own values with ``numpy.random.default_rng(0)``, so a
calibration should recover it (``tests/test_petab_example.py``; the profile intervals are in
docs/estimation.md).
Run ``python -m simulator.estimation.example DIR`` to write the problem again.
"""
from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from simulator import api
from simulator.treatments import run_treatment

ESTIMATED = ("kdp_S6K1", "IC50_alpelisib_a", "k_mTORC1_act")
TIMES = (0.5, 1.0, 2.0, 4.0, 8.0, 24.0, 48.0)
CONDITIONS = {"untreated": (0.0, 0.0), "everolimus": (1.0, 0.0), "alpelisib_low": (0.0, 5.0),
              "alpelisib_high": (0.0, 50.0), "everolimus_alpelisib": (1.0, 5.0)}
SCALES = {"pS6": 0.02, "pAkt_S473": 0.05}
NOISE = 0.1                       # standard deviation, relative to the observable's mean


def write(folder: str | Path) -> Path:
    """Write the problem's tables into ``folder``; the YAML names the bundled SBML model
    (``simulator/models/er_crosstalk.xml``) by its path relative to ``folder``. Returns the
    YAML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = api.load_model()
    truth = api.compile_model(model).system.init.value_of(list(ESTIMATED))
    rng = np.random.default_rng(0)
    rows, sigma = [], {}
    for cid, (ev, alp) in CONDITIONS.items():
        if cid == "untreated":
            continue
        traj = run_treatment(model, {"everolimus": ev, "alpelisib": alp},
                                 np.array((0.0,) + TIMES))
        for oid, scale in SCALES.items():
            values = scale * traj[oid][1:]
            sigma.setdefault(oid, NOISE * float(np.mean(values)))
            noisy = values + sigma[oid] * rng.standard_normal(values.size)
            for t, v in zip(TIMES, noisy):
                rows.append({"observableId": f"obs_{oid}", "preequilibrationConditionId":
                             "untreated", "simulationConditionId": cid, "time": t,
                             "measurement": round(float(v), 6),
                             "observableParameters": f"scale_{oid}",
                             "noiseParameters": f"sigma_{oid}"})
    pd.DataFrame(rows).to_csv(folder / "measurements.tsv", sep="\t", index=False)
    pd.DataFrame([{"conditionId": cid, "everolimus": ev, "alpelisib": alp}
                  for cid, (ev, alp) in CONDITIONS.items()]).to_csv(
        folder / "conditions.tsv", sep="\t", index=False)
    pd.DataFrame([{"observableId": f"obs_{oid}",
                   "observableFormula": f"observableParameter1_obs_{oid} * {oid}",
                   "noiseFormula": f"noiseParameter1_obs_{oid}",
                   "observableTransformation": "lin", "noiseDistribution": "normal"}
                  for oid in SCALES]).to_csv(folder / "observables.tsv", sep="\t", index=False)
    params = [{"parameterId": pid, "parameterScale": "log10", "lowerBound": v / 10,
               "upperBound": v * 10, "nominalValue": v, "estimate": 1}
              for pid, v in truth.items()]
    params += [{"parameterId": f"scale_{oid}", "parameterScale": "log10", "lowerBound": s / 100,
                "upperBound": s * 100, "nominalValue": s, "estimate": 1}
               for oid, s in SCALES.items()]
    params += [{"parameterId": f"sigma_{oid}", "parameterScale": "log10",
                "lowerBound": sigma[oid] / 100, "upperBound": sigma[oid] * 100,
                "nominalValue": sigma[oid], "estimate": 1} for oid in SCALES]
    pd.DataFrame(params).to_csv(folder / "parameters.tsv", sep="\t", index=False)
    yaml = folder / "er_crosstalk_example.yaml"
    bundled = Path(str(resources.files("simulator") / "models" / "er_crosstalk.xml"))
    sbml = Path(os.path.relpath(bundled.resolve(), folder.resolve())).as_posix()
    yaml.write_text("format_version: 1\nparameter_file: parameters.tsv\nproblems:\n"
                    f"- sbml_files: [{sbml}]\n"
                    "  condition_files: [conditions.tsv]\n"
                    "  measurement_files: [measurements.tsv]\n"
                    "  observable_files: [observables.tsv]\n")
    return yaml


if __name__ == "__main__":
    default = resources.files("simulator") / "models" / "petab" / "er_crosstalk_example"
    print(write(sys.argv[1] if len(sys.argv) > 1 else str(default)))
