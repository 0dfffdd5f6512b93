"""The result of a virtual trial: patients, survival statistics, comparison, figures."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from simulator.trials import survival

__all__ = ["TrialResult"]


def _f(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


@dataclass(eq=False)
class TrialResult:
    """A virtual trial's outcome.

    Attributes
    ----------
    trial : Trial
    patients : pandas.DataFrame
        One row per patient: arm, prior therapy, phenotypes, subclones, sampled
        parameters, PFS (months), event flag, best response, clinical benefit.
    scan_days, grid_days : ndarray
        Scan times and the weekly grid of the lesion trajectories (days).
    sld : ndarray, shape (n_patients, n_grid)
        Sum of longest diameters (mm) of each patient over ``grid_days``.
    provenance : dict
        Model hash, version, seed, sizes, the calibration (what was fitted), timings.
    """

    trial: object
    patients: pd.DataFrame
    scan_days: np.ndarray
    grid_days: np.ndarray
    sld: np.ndarray
    provenance: dict = field(default_factory=dict)

    @property
    def arms(self) -> list:
        return list(self.trial.arms)

    @cached_property
    def median_pfs(self) -> dict:
        """Arm -> (median PFS months, lower, upper 95% CI) from Kaplan-Meier."""
        out = {}
        for a in self.arms:
            d = self.patients[self.patients["arm"] == a]
            out[a] = survival.median_pfs(d["pfs_months"], d["event"])
        return out

    @cached_property
    def hazard_ratio(self) -> tuple:
        """(HR, lower, upper, log-rank p) of the first non-control arm against control."""
        other = [a for a in self.arms if a != "control"][0]
        d = self.patients[self.patients["arm"].isin(["control", other])]
        return survival.hazard_ratio(d["pfs_months"], d["event"],
                                     (d["arm"] == other).astype(int))

    def response_rates(self) -> pd.DataFrame:
        """ORR and clinical benefit rate per arm."""
        g = self.patients.groupby("arm", sort=False)
        return pd.DataFrame({
            "ORR": g["best_response"].apply(lambda s: float(s.isin(["CR", "PR"]).mean())),
            "CBR": g["clinical_benefit"].mean().astype(float)}).reindex(self.arms)

    def compare(self) -> pd.DataFrame:
        """Simulated vs published, side by side (what the control arm fitted is marked)."""
        pub = self.trial.published
        rows = []
        fitted = self.provenance.get("calibration") is not None
        for a in self.arms:
            m, lo, hi = self.median_pfs[a]
            rows.append({"quantity": f"median PFS {a} (months)", "simulated": m,
                         "lower": lo, "upper": hi,
                         "published": pub.median_pfs_months.get(a, math.nan),
                         "role": "fitted" if a == "control" and fitted else "predicted"})
        hr, lo, hi, p = self.hazard_ratio
        phr = pub.hazard_ratio or (math.nan,)
        rows.append({"quantity": "hazard ratio", "simulated": hr, "lower": lo, "upper": hi,
                     "published": phr[0],
                     "published_lower": phr[1] if len(phr) == 3 else math.nan,
                     "published_upper": phr[2] if len(phr) == 3 else math.nan,
                     "role": "predicted"})
        rows.append({"quantity": "log-rank p", "simulated": p,
                     "published": pub.p if pub.p is not None else math.nan,
                     "role": "predicted"})
        rr = self.response_rates()
        for a in self.arms:
            rows.append({"quantity": f"ORR {a}", "simulated": rr.loc[a, "ORR"],
                         "published": pub.orr.get(a, math.nan), "role": "predicted"})
        return pd.DataFrame(rows).set_index("quantity")

    def summary(self) -> dict:
        """The content of ``summary.json``."""
        hr, lo, hi, p = self.hazard_ratio
        pub = self.trial.published
        return {
            "trial": self.trial.name, "source": self.trial.source,
            "patients_per_arm": self.provenance.get("patients_per_arm"),
            "hazard_ratio": [_f(hr), _f(lo), _f(hi)], "p": _f(p),
            "median_pfs_months": {a: _f(v[0]) for a, v in self.median_pfs.items()},
            "median_pfs_ci": {a: [_f(v[1]), _f(v[2])] for a, v in self.median_pfs.items()},
            "response": {a: {k: _f(v) for k, v in r.items()}
                         for a, r in self.response_rates().to_dict("index").items()},
            "published": {"median_pfs_months": pub.median_pfs_months,
                          "hazard_ratio": list(pub.hazard_ratio) if pub.hazard_ratio else None,
                          "p": pub.p, "n": pub.n, "endpoint": pub.endpoint,
                          "source": pub.source or self.trial.source},
            "fitted": self.provenance.get("calibration"),
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2, default=str)

    def plot(self, *, n_trajectories: int = 12, fig=None):
        """Kaplan-Meier per arm (published medians marked) and lesion trajectories.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        fig = fig or plt.figure(figsize=(12, 4.8))
        ax_km, ax_tr = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        colors = dict(zip(self.arms, ["#555555", "#c0392b", "#2874a6", "#7d3c98"]))
        pub = self.trial.published
        for a in self.arms:
            d = self.patients[self.patients["arm"] == a]
            km = survival.kaplan_meier(d["pfs_months"], d["event"], label=self.trial.arms[a].label)
            km.plot_survival_function(ax=ax_km, ci_show=True, color=colors[a], show_censors=True,
                                      censor_styles={"ms": 3, "marker": "|"})
            m = self.median_pfs[a][0]
            if math.isfinite(m):
                ax_km.plot([m], [0.5], "o", color=colors[a], ms=6)
            if a in pub.median_pfs_months:
                pm = pub.median_pfs_months[a]
                ax_km.axvline(pm, color=colors[a], ls="--", lw=1)
                ax_km.annotate(f" published median {pm:g}", (pm, 0.62 - 0.06 * self.arms.index(a)),
                               color=colors[a], fontsize=8, rotation=0, ha="left")
        ax_km.axhline(0.5, color="0.8", lw=0.8)
        hr, lo, hi, p = self.hazard_ratio
        ptxt = f"HR {hr:.2f} ({lo:.2f}-{hi:.2f}), log-rank p={p:.2g}"
        if pub.hazard_ratio:
            ph = pub.hazard_ratio
            ptxt += f"\npublished HR {ph[0]:g}" + (f" ({ph[1]:g}-{ph[2]:g})" if len(ph) == 3 else "")
        ax_km.text(0.98, 0.97, ptxt, transform=ax_km.transAxes, ha="right", va="top", fontsize=8)
        ax_km.set_xlabel("months from randomisation")
        ax_km.set_ylabel(f"{pub.endpoint} (probability free of progression)")
        ax_km.set_ylim(0, 1.02)
        ax_km.set_xlim(0, self.trial.months)
        ax_km.set_title(f"{self.trial.name}: virtual trial, "
                        f"{self.provenance.get('patients_per_arm')} patients per arm", fontsize=10)
        ax_km.legend(loc="lower left", fontsize=8, frameon=False)
        # lesion trajectories: a few patients per arm, to progression or censoring
        rng = np.random.default_rng(0)
        months = self.grid_days / 30.4375
        for a in self.arms:
            idx = np.flatnonzero(self.patients["arm"].to_numpy() == a)
            pick = rng.choice(idx, size=min(n_trajectories // len(self.arms), idx.size),
                              replace=False)
            for i in pick:
                end = self.patients["pfs_months"].iloc[i]
                keep = months <= end + 1e-9
                base = self.sld[i, 0]
                ax_tr.plot(months[keep], 100 * (self.sld[i, keep] / base - 1), color=colors[a],
                           lw=1, alpha=0.8)
                if self.patients["event"].iloc[i]:
                    ax_tr.plot([months[keep][-1]], [100 * (self.sld[i, keep][-1] / base - 1)],
                               "x", color=colors[a], ms=5)
        lo, hi = ax_tr.get_ylim()
        ax_tr.set_ylim(max(lo, -100), min(max(hi, 60), 200))
        ax_tr.axhline(20, color="0.6", ls=":", lw=1)
        ax_tr.axhline(-30, color="0.6", ls=":", lw=1)
        ax_tr.text(0.2, 21, "+20% (PD vs nadir)", fontsize=7, color="0.4", clip_on=True)
        if ax_tr.get_ylim()[0] < -30:
            ax_tr.text(0.2, -29, "-30% (PR)", fontsize=7, color="0.4", clip_on=True)
        ax_tr.set_xlabel("months from randomisation")
        ax_tr.set_ylabel("change in sum of diameters from baseline (%)")
        ax_tr.set_title("lesion trajectories (x: RECIST progression)", fontsize=10)
        ax_tr.set_xlim(0, self.trial.months)
        fig.tight_layout()
        return fig
