"""The explorer's simulations: a :class:`~simulator.lab.state.LabState` run by the experiment
protocol, through the public API only, with no web framework in sight.

Each arm and the untreated control are ``sim.run_treatment(model, treatment, t,
phenotype=cell, params=medium)``: the untreated cell at steady state, then the drugs from
``t = 0`` (a drug with a start or stop time as a :class:`~simulator.treatments.Dose` on a
:class:`~simulator.treatments.Schedule`). :func:`snippet` writes the same calls as a Python
script, so what the page plots can be reproduced outside it.
"""
from __future__ import annotations

import io
import json
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

import simulator as sim
from simulator.bundled.network import DRUG_TARGETS, MODULES, phenotype_label, readout_label
from simulator.lab.state import Arm, DrugDose, LabState

__all__ = ["ArmRun", "LabRun", "lab_model", "times", "treatment", "run", "snippet",
           "figure", "CONTROL"]

CONTROL = "untreated"
N_POINTS = 169               # output times per run (every 2 h over two weeks)
_RUNS: OrderedDict = OrderedDict()
_RUNS_LOCK = threading.Lock()
_MAX_RUNS = 256


@cache
def lab_model():
    """The bundled model, loaded once per process."""
    return sim.load_model()


def times(hours: float) -> np.ndarray:
    """Output times (h) of a run of ``hours``."""
    return np.linspace(0.0, float(hours), N_POINTS)


def treatment(arm: Arm) -> sim.Treatment:
    """The arm as a :class:`~simulator.Treatment`: a concentration from ``t = 0`` as a
    number, one with a start or stop time on a continuous :class:`~simulator.Schedule`, a
    regimen in mg as ``Dose(mg, "mg", Schedule.every(hours, start=, stop=))`` (exposure
    through the catalogue's PK)."""
    return sim.Treatment({d.drug: _dose(d) for d in arm.drugs})


def _dose(d: DrugDose):
    if d.unit == "mg":
        return sim.Dose(d.amount, "mg", sim.Schedule.every(d.every_h, start=d.start_h,
                                                           stop=d.stop_h))
    if not d.start_h and d.stop_h is None:
        return d.amount
    return sim.Dose(d.amount, "nM", sim.Schedule.continuous(start=d.start_h, stop=d.stop_h))


@dataclass(frozen=True)
class ArmRun:
    """One simulated arm: its ``traj``, or the ``error`` that stopped it."""

    name: str
    traj: object = None
    error: str = ""
    drugs: tuple = ()


@dataclass(frozen=True)
class LabRun:
    """The untreated control and every arm of a state, over the same times."""

    state: LabState
    t: np.ndarray
    control: ArmRun
    arms: tuple
    seconds: float = 0.0
    notes: tuple = field(default=())

    @property
    def runs(self) -> tuple:
        return (self.control, *self.arms)

    def values(self, run: ArmRun, readout: str) -> np.ndarray | None:
        return None if run.traj is None else np.array(run.traj[readout], dtype=float, order="C")

    def table(self) -> pd.DataFrame:
        """What is plotted, one row per arm and time: ``arm``, ``treatment``, ``time_h``
        and one column per readout (the CSV export)."""
        frames = []
        for k, r in enumerate(self.runs):
            if r.traj is None:
                continue
            cols = {"arm": CONTROL if k == 0 else f"arm {k}", "treatment": r.name,
                    "time_h": self.t}
            cols.update({rid: self.values(r, rid) for rid in self.state.readouts})
            frames.append(pd.DataFrame(cols))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def csv(self) -> str:
        return self.table().to_csv(index=False, float_format="%.10g")

    def plotted(self) -> dict:
        """The plotted numbers as plain data (exact floats), for the page's data element."""
        return {"hours": self.state.hours, "t": self.t.tolist(),
                "readouts": list(self.state.readouts),
                "runs": [{"name": r.name, "error": r.error,
                          "values": {rid: (None if r.traj is None else
                                           self.values(r, rid).tolist())
                                     for rid in self.state.readouts}}
                         for r in self.runs]}

    def plotted_json(self) -> str:
        return json.dumps(self.plotted(), allow_nan=False, default=_nan_safe)

    def activity(self, k: int) -> dict:
        """Species id -> log2(arm k / untreated) at the end of the run (k = 1.. arms)."""
        arm, ctl = self.runs[k], self.control
        if arm.traj is None or ctl.traj is None:
            return {}
        out = {}
        for ids in MODULES.values():
            for sid in ids:
                a, c = float(arm.traj[sid][-1]), float(ctl.traj[sid][-1])
                out[sid] = math.log2((max(a, 0.0) + 1e-3) / (max(c, 0.0) + 1e-3))
        return out


def _nan_safe(x):
    return None


def run(state: LabState, model=None) -> LabRun:
    """Simulate the untreated control and every arm of ``state`` (cached per arm).

    An arm whose simulation fails carries the error's message (an ``IntegrationError``
    names the species and time); the other arms are still shown.
    """
    model = model if model is not None else lab_model()
    start = time.perf_counter()
    t = times(state.hours)
    control = _arm_run(model, state, Arm())
    arms = tuple(_arm_run(model, state, a) for a in state.arms)
    return LabRun(state, t, control, arms, time.perf_counter() - start)


def _arm_run(model, state: LabState, arm: Arm) -> ArmRun:
    key = (model.hash, state.cell, state.medium, state.hours, arm)
    with _RUNS_LOCK:
        hit = _RUNS.get(key)
        if hit is not None:
            _RUNS.move_to_end(key)
            return hit
    name = arm.label if arm.drugs else CONTROL
    try:
        traj = sim.run_treatment(model, treatment(arm), times(state.hours),
                                 phenotype=list(state.cell), params=dict(state.medium))
        out = ArmRun(name, traj, drugs=tuple(d.drug for d in arm.drugs))
    except sim.IntegrationError as err:
        out = ArmRun(name, error=f"the simulation failed: {err}")
    except sim.SimulatorError as err:
        out = ArmRun(name, error=str(err))
    with _RUNS_LOCK:
        _RUNS[key] = out
        while len(_RUNS) > _MAX_RUNS:
            _RUNS.popitem(last=False)
    return out


# --------------------------------------------------------------------------- the Python snippet

def snippet(state: LabState) -> str:
    """A Python script that reproduces ``state``'s runs with the public API and prints
    ``table``, the same numbers as the page's CSV export."""
    arms = []
    for arm in state.arms:
        drugs = ", ".join(f"{d.drug!r}: {_dose_code(d)}" for d in arm.drugs)
        arms.append(f"    {arm.label!r}: sim.Treatment({{{drugs}}}),")
    arm_lines = "\n".join(arms)
    return f'''"""Crosstalk lab experiment: reproduces the explorer's plot with the public API."""
import numpy as np
import pandas as pd

import simulator as sim

model = sim.load_model()
t = np.linspace(0.0, {state.hours!r}, {N_POINTS})     # hours after the drugs are added
cell = {list(state.cell)!r}                       # phenotypes ([]: parental)
medium = {dict(state.medium)!r}                    # medium inputs changed (nM)
readouts = {list(state.readouts)!r}
arms = {{
{arm_lines}
}}

runs = {{{CONTROL!r}: sim.run_treatment(model, sim.Treatment({{}}), t, phenotype=cell,
                                          params=medium)}}
for name, treatment in arms.items():
    runs[name] = sim.run_treatment(model, treatment, t, phenotype=cell, params=medium)

table = pd.concat([pd.DataFrame({{"arm": {CONTROL!r} if k == 0 else f"arm {{k}}",
                                 "treatment": name, "time_h": t,
                                 **{{r: traj[r] for r in readouts}}}})
                   for k, (name, traj) in enumerate(runs.items())], ignore_index=True)
print(table.groupby("treatment", sort=False)[readouts].last())
'''


def _dose_code(d: DrugDose) -> str:
    if d.unit == "mg":
        return (f"sim.Dose({d.amount!r}, 'mg', sim.Schedule.every({d.every_h!r}, "
                f"start={d.start_h!r}, stop={d.stop_h!r}))")
    if not d.start_h and d.stop_h is None:
        return repr(d.amount)
    return (f"sim.Dose({d.amount!r}, 'nM', sim.Schedule.continuous(start={d.start_h!r}, "
            f"stop={d.stop_h!r}))")


# --------------------------------------------------------------------------- the figure

def time_axis(hours: float) -> tuple[float, str]:
    """(divisor, label) of the time axis: days for runs of 3 days or more."""
    return (24.0, "days after the drugs are added") if hours >= 72 else \
        (1.0, "hours after the drugs are added")


def figure(lab: LabRun):
    """The explorer's plot as a matplotlib Figure (rows: readouts, columns: arms, the
    untreated control dashed in every panel; one y-axis per row)."""
    plt = sim.plot.pyplot(headless=True)
    state = lab.state
    nrow, ncol = len(state.readouts), len(lab.arms)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol + 1.2, 2.5 * nrow + 0.8),
                             squeeze=False, sharex=True, sharey="row")
    div, xlabel = time_axis(state.hours)
    x = lab.t / div
    for i, rid in enumerate(state.readouts):
        for j, arm in enumerate(lab.arms):
            ax = axes[i, j]
            c = lab.values(lab.control, rid)
            if c is not None:
                ax.plot(x, c, color="#777777", ls="--", lw=1.4, label=CONTROL)
            v = lab.values(arm, rid)
            if v is not None:
                ax.plot(x, v, color=f"C{j}", lw=2.0, label="treated")
            else:
                ax.text(0.5, 0.5, "failed:\n" + arm.error[:120], ha="center", va="center",
                        fontsize=7, wrap=True, transform=ax.transAxes, color="#9b1c1c")
            if rid == "tumor_burden":
                ax.set_yscale("log")
            if i == 0:
                ax.set_title(_wrap(arm.name), fontsize=9)
            if j == 0:
                ax.set_ylabel(_wrap(readout_label(rid), 24), fontsize=9)
            if i == nrow - 1:
                ax.set_xlabel(xlabel, fontsize=8)
            ax.tick_params(labelsize=8)
    axes[0, 0].legend(fontsize=7, loc="best")
    cell = " + ".join(phenotype_label(p) for p in state.cell) or "parental"
    fig.suptitle(f"{cell} cell (dashed: untreated)", fontsize=10)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 34) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def image(lab: LabRun, fmt: str = "png") -> bytes:
    """:func:`figure` as PNG or SVG bytes."""
    plt = sim.plot.pyplot(headless=True)
    fig = figure(lab)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110)
    plt.close(fig)
    return buf.getvalue()


def drug_targets(lab: LabRun, k: int) -> dict:
    """Species id -> drugs of arm k acting there (for the network view)."""
    out = {}
    for d in lab.runs[k].drugs:
        if d in DRUG_TARGETS:
            out.setdefault(DRUG_TARGETS[d], []).append(d)
    return out
