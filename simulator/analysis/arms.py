"""Treatment arms compared across cell types: the cell-level analogue of a drug-pair trial.

Each cell type (a phenotype, or parental) and every arm (drugs at constant nM), with an
untreated control, run for some weeks by the experiment protocol (untreated steady state,
then treatment). The table gives a rate readout (e.g. the growth rate) at the assay time, its
inhibition ``1 - g_arm / g_control`` (above 1: net regression for a growth rate) and a course
readout (e.g. the tumour burden) at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.errors import PerturbationError
from simulator.plot import pyplot
from simulator.treatments.protocol import run_treatment

CONTROL = "control"


@dataclass(frozen=True)
class ArmComparison:
    """Result of :func:`compare_arms`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (cell, arm): ``<readout>_<h>h``, ``inhibition_<h>h``,
        ``<course>_week<w>``.
    days : ndarray
        Output times in days.
    courses : dict
        ``(cell, arm) -> <course>`` over ``days``.
    """

    table: object
    days: np.ndarray
    courses: dict = field(repr=False)
    arms: tuple = ()
    cells: tuple = ()
    assay_hours: float = 72.0
    weeks: float = 4.0
    readout: str = ""
    course: str = ""

    @property
    def inhibition_column(self) -> str:
        return f"inhibition_{self.assay_hours:g}h"

    def plot(self, *, course_cell: str | None = None, title: str = "", axes=None):
        """Bars of inhibition per arm and cell, and tumour-burden courses of one cell.

        Returns the matplotlib Figure."""
        plt = pyplot()
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        ax1, ax2 = axes
        fig = ax1.figure
        course_cell = course_cell or self.cells[-1]
        inh = self.table[self.table.arm != CONTROL].pivot(index="arm", columns="cell",
                                                           values=self.inhibition_column)
        inh = inh.loc[list(self.arms), list(self.cells)]
        x = np.arange(len(inh))
        width = 0.8 / len(self.cells)
        for k, cell in enumerate(self.cells):
            ax1.bar(x + (k - (len(self.cells) - 1) / 2) * width, 100 * inh[cell], width, label=cell)
        ax1.set_xticks(x, [a.replace(" + ", "\n+ ") for a in inh.index])
        ax1.axhline(0, color="k", lw=0.5)
        ax1.axhline(100, color="grey", ls=":", lw=0.8)
        rate = self.readout.replace("_", " ")
        ax1.set(ylabel=f"inhibition of {rate} at {self.assay_hours:g} h (%)\n(above 100: "
                       f"net regression)",
                title="Short assay")
        ax1.legend(fontsize=8)
        for (cell, arm), burden in self.courses.items():
            if cell == course_cell:
                ax2.plot(self.days, burden, label=arm, ls="--" if arm == CONTROL else "-")
        ax2.set(xlabel="days", ylabel=f"{self.course.replace('_', ' ')} (relative)", yscale="log",
                title=f"{course_cell}, {self.weeks:g} weeks")
        ax2.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


    def save(self, out_dir, *, course_cell: str | None = None, title: str = "") -> dict:
        """Write ``figure.png`` and ``results.csv`` into ``out_dir`` (created if needed).

        Returns ``{"figure": path, "csv": path, "table": DataFrame}``."""
        plt = pyplot()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        fig = self.plot(course_cell=course_cell, title=title)
        fig.savefig(out / "figure.png", dpi=110)
        plt.close(fig)
        self.table.to_csv(out / "results.csv", index=False)
        return {"figure": out / "figure.png", "csv": out / "results.csv", "table": self.table}


def compare_arms(model, arms: dict, *, cells: dict, readout: str, course: str,
                 weeks: float = 4.0, points: int = 57,
                 assay_hours: float = 72.0) -> ArmComparison:
    """Run every arm and an untreated control in every cell type.

    Parameters
    ----------
    model : Model
    arms : dict
        Arm name -> ``{drug id: nM}``.
    cells : dict
        Cell name -> phenotype (name, list of names, or None for parental).
    readout : str
        The rate read at ``assay_hours`` and compared with the control (e.g. a growth rate).
    course : str
        The readout followed over the whole run (e.g. a tumour burden).
    weeks : float
        Length of each run.
    points : int
        Output points over the run.
    assay_hours : float
        When ``readout`` is read.
    """
    if not arms:
        raise PerturbationError("compare_arms needs at least one arm")
    days = np.linspace(0.0, 7.0 * weeks, points)
    col_g, col_i = f"{readout}_{assay_hours:g}h", f"inhibition_{assay_hours:g}h"
    col_b = f"{course}_week{weeks:g}"
    rows, courses = [], {}
    for cell, phenotype in cells.items():
        g0 = None
        for arm, drugs in {CONTROL: {}, **arms}.items():
            traj = run_treatment(model, drugs, days * 24.0, phenotype=phenotype)
            g = float(np.interp(assay_hours, traj.t, traj[readout]))
            g0 = g if g0 is None else g0
            rows.append({"cell": cell, "arm": arm, col_g: g, col_i: 1.0 - g / g0,
                         col_b: float(traj[course][-1])})
            courses[(cell, arm)] = traj[course]
    return ArmComparison(pd.DataFrame(rows), days, courses, tuple(arms), tuple(cells),
                         assay_hours, weeks, readout, course)
