"""Treatment arms compared across cell types: the cell-level analogue of a drug-pair trial.

Each cell type (a phenotype, or parental) starts from its untreated steady state; every arm
(drugs at constant nM) and an untreated control run for some weeks. The table gives the
growth rate at the assay time, the growth inhibition ``1 - g_arm / g_control`` (above 1:
net regression) and the tumour burden at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CONTROL = "control"


@dataclass(frozen=True)
class ArmComparison:
    """Result of :func:`compare_arms`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (cell, arm): ``growth_rate_<h>h``, ``inhibition_<h>h``,
        ``tumor_burden_week<w>``.
    days : ndarray
        Output times in days.
    courses : dict
        ``(cell, arm) -> tumor_burden`` over ``days``.
    """

    table: object
    days: np.ndarray
    courses: dict = field(repr=False)
    arms: tuple = ()
    cells: tuple = ()
    assay_hours: float = 72.0
    weeks: float = 4.0

    @property
    def inhibition_column(self) -> str:
        return f"inhibition_{self.assay_hours:g}h"

    def plot(self, *, course_cell: str | None = None, title: str = "", axes=None):
        """Bars of inhibition per arm and cell, and tumour-burden courses of one cell.

        Returns the matplotlib Figure."""
        import matplotlib.pyplot as plt
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
        ax1.set(ylabel=f"growth inhibition at {self.assay_hours:g} h (%)\n(above 100: net regression)",
                title="Short assay")
        ax1.legend(fontsize=8)
        for (cell, arm), burden in self.courses.items():
            if cell == course_cell:
                ax2.plot(self.days, burden, label=arm, ls="--" if arm == CONTROL else "-")
        ax2.set(xlabel="days", ylabel="tumour burden (relative)", yscale="log",
                title=f"{course_cell}, {self.weeks:g} weeks")
        ax2.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


    def save(self, out_dir, *, course_cell: str | None = None, title: str = "") -> dict:
        """Write ``figure.png`` and ``results.csv`` into ``out_dir`` (created if needed).

        Returns ``{"figure": path, "csv": path, "table": DataFrame}``."""
        from pathlib import Path

        import matplotlib.pyplot as plt
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        fig = self.plot(course_cell=course_cell, title=title)
        fig.savefig(out / "figure.png", dpi=110)
        plt.close(fig)
        self.table.to_csv(out / "results.csv", index=False)
        return {"figure": out / "figure.png", "csv": out / "results.csv", "table": self.table}


def compare_arms(model, arms: dict, *, cells: dict, weeks: float = 4.0, points: int = 57,
                 assay_hours: float = 72.0) -> ArmComparison:
    """Run every arm and an untreated control in every cell type.

    Parameters
    ----------
    model : Model
    arms : dict
        Arm name -> ``{drug id: nM}``.
    cells : dict
        Cell name -> phenotype (name, list of names, or None for parental).
    weeks : float
        Length of each run.
    points : int
        Output points over the run.
    assay_hours : float
        When the short-assay growth rate is read.
    """
    import pandas as pd

    from simulator.api import simulate, steady_state
    from simulator.errors import PerturbationError
    if not arms:
        raise PerturbationError("compare_arms needs at least one arm")
    days = np.linspace(0.0, 7.0 * weeks, points)
    col_g, col_i = f"growth_rate_{assay_hours:g}h", f"inhibition_{assay_hours:g}h"
    col_b = f"tumor_burden_week{weeks:g}"
    rows, courses = [], {}
    for cell, phenotype in cells.items():
        start = {**steady_state(model, phenotype=phenotype).state, "tumor_burden": 1.0}
        g0 = None
        for arm, drugs in {CONTROL: {}, **arms}.items():
            traj = simulate(model, days * 24.0, initial=start, phenotype=phenotype, drugs=drugs)
            g = float(np.interp(assay_hours, traj.t, traj["growth_rate"]))
            g0 = g if g0 is None else g0
            rows.append({"cell": cell, "arm": arm, col_g: g, col_i: 1.0 - g / g0,
                         col_b: float(traj["tumor_burden"][-1])})
            courses[(cell, arm)] = traj["tumor_burden"]
    return ArmComparison(pd.DataFrame(rows), days, courses, tuple(arms), tuple(cells),
                         assay_hours, weeks)
