"""Write docs/tutorial.ipynb, the class tutorial on endocrine resistance (run: python docs/make_tutorial.py).

The notebook is generated so that it stays reviewable as plain Python; tests/test_docs.py
executes it and checks that it matches this script.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# Endocrine resistance in ER+ breast cancer: a simulation tutorial

About 70% of breast cancers express the estrogen receptor (ER) and depend on it to grow.
Endocrine therapy removes estrogen (aromatase inhibitors: letrozole, anastrozole,
exemestane) or blocks ER (tamoxifen, fulvestrant). Many tumours stop responding, and most of
the ways they escape run through **crosstalk** between ER and growth-factor receptor
signalling (EGFR, HER2, HER3, IGF-1R -> PI3K-Akt-mTOR and MAPK).

In this tutorial you run experiments on a mechanistic model of that network, one
resistance mechanism at a time, and see how a drug combination undoes each one.

Conventions: time in **hours**, concentrations in **nM**, growth rate in **per day**. Each
experiment starts from the steady state of the untreated cell and adds drugs at t = 0."""),
    ("code", """import numpy as np
import matplotlib.pyplot as plt
import simulator as sim

model = sim.load_model()
sim.drugs()[["target", "clinical_exposure_nM"]]"""),
    ("md", """Two small helpers: the untreated cell of a given phenotype (its steady state, the
tumour burden set to 1), and a treatment of it, the protocol every experiment here follows:
equilibrate the untreated cell, then add the drugs at t = 0."""),
    ("code", """def untreated(phenotype=None, **params):
    \"\"\"Steady state of the untreated cell, as start values (tumour burden 1).\"\"\"
    return sim.untreated_state(model, phenotype=phenotype, params=params or None)[0]


def run(drugs=None, phenotype=None, hours=72.0, points=2, **params):
    \"\"\"Treat the untreated cell with `drugs` (nM) for `hours`; returns the trajectory.\"\"\"
    t = np.linspace(0.0, hours, points)
    return sim.run_treatment(model, drugs or {}, t, phenotype=phenotype,
                             params=params or None)


def growth(drugs=None, phenotype=None, **params):
    return float(run(drugs, phenotype, **params)["growth_rate"][-1])


def bars(ax, values, title, ylabel="growth rate after 72 h (per day)"):
    ax.bar(list(values), list(values.values()), color=[f"C{i}" for i in range(len(values))])
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)

print("untreated parental cell grows at", round(growth(), 3), "per day")"""),
    ("md", """## 1. Estrogen drives ER; antiestrogens block it

Aromatase makes estradiol (E2) from androstenedione. E2-bound ER drives cyclin D1 and
proliferation. Tamoxifen (through its metabolite endoxifen) competes with E2; fulvestrant
competes *and* makes ER degrade."""),
    ("code", """conditions = {
    "control": {},
    "letrozole 100": {"letrozole": 100.0},
    "tamoxifen 300": {"tamoxifen": 300.0},
    "fulvestrant 100": {"fulvestrant": 100.0},
}
trajs = {k: run(d) for k, d in conditions.items()}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for ax, readout in zip(axes, ["ER_activity", "ER_total", "growth_rate"]):
    bars(ax, {k: tr[readout][-1] for k, tr in trajs.items()}, readout, readout)
fig.tight_layout()"""),
    ("md", """**What to see:** all three lower ER activity and growth; only fulvestrant lowers ER
protein (tamoxifen even stabilises it).

## 2. HER2 amplification makes tamoxifen fail

In HER2-amplified cells, HER2 drives ERK and Akt, which phosphorylate ER; tamoxifen-bound
phosphorylated ER becomes a partial *agonist*. Blocking HER2 undoes it."""),
    ("code", """values = {}
for phenotype in (None, "HER2_amplified"):
    name = phenotype or "parental"
    values[f"{name}\\ncontrol"] = growth(None, phenotype)
    values[f"{name}\\ntamoxifen"] = growth({"tamoxifen": 300.0}, phenotype)
values["HER2_amplified\\ntamoxifen + lapatinib"] = growth(
    {"tamoxifen": 300.0, "lapatinib": 1000.0}, "HER2_amplified")
fig, ax = plt.subplots(figsize=(8, 3.6))
bars(ax, values, "Tamoxifen in parental and HER2-amplified cells")"""),
    ("md", """## 3. Everolimus and the S6K1 -| IRS-1 feedback

mTORC1 -> S6K1 phosphorylates IRS-1 and damps IGF-1R -> PI3K. The rapalog everolimus
switches mTORC1 off (pS6 falls) and so *releases* the brake: pAkt rises. Adding a PI3K
inhibitor (alpelisib) closes the escape."""),
    ("code", """base = untreated()
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for label, drugs in {"everolimus 20": {"everolimus": 20.0},
                     "everolimus + alpelisib": {"everolimus": 20.0, "alpelisib": 1000.0}}.items():
    tr = run(drugs, hours=24.0, points=49)
    for ax, readout in zip(axes, ["pS6", "pAkt_S473"]):
        ref = sim.simulate(model, [0.0, 1.0], initial=base)[readout][0]
        ax.plot(tr.t, tr[readout] / ref, label=label)
for ax, readout in zip(axes, ["pS6", "pAkt_S473"]):
    ax.axhline(1, color="grey", lw=0.8)
    ax.set(xlabel="hours", ylabel=f"{readout} relative to untreated", title=readout)
    ax.legend()
fig.tight_layout()"""),
    ("md", """## 4. Estrogen deprivation: escape through receptor tyrosine kinases

E2-ER represses EGFR and HER2. Under months of an aromatase inhibitor that repression is
lost slowly, the receptors rise and growth recovers: the cell becomes *long-term estrogen
deprived* (LTED). Adding lapatinib blocks the escape route: HER2 still rises (lapatinib
blocks its kinase, not its expression) but can no longer drive growth."""),
    ("code", """days = np.linspace(0, 120, 121)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for label, drugs in {"letrozole": {"letrozole": 100.0},
                     "letrozole + lapatinib": {"letrozole": 100.0, "lapatinib": 1000.0}}.items():
    tr = sim.simulate(model, days * 24, drugs=drugs, initial=base)
    axes[0].plot(days, tr["growth_rate"], label=label)
    axes[1].plot(days, tr["HER2_total"] / tr["HER2_total"][0], label=label)
axes[0].set(xlabel="days", ylabel="growth rate (per day)", title="Arrest, then escape")
axes[1].set(xlabel="days", ylabel="HER2 relative to day 0", title="HER2 rises")
for ax in axes:
    ax.legend()
fig.tight_layout()"""),
    ("md", """## 5. ESR1 mutations: ER without estrogen

Y537S-like ER is active without E2: aromatase inhibitors lose their effect. Fulvestrant
still works, at higher doses. `sim.dose_response` runs a dose series and fits a Hill curve."""),
    ("code", """print("letrozole, parental:   ", round(growth({"letrozole": 100.0}), 3))
print("letrozole, ESR1_mutant:", round(growth({"letrozole": 100.0}, "ESR1_mutant"), 3))
fig, ax = plt.subplots(figsize=(6, 3.8))
doses = [0.03, 0.1, 0.3, 1, 3, 10, 100]
for phenotype in (None, "ESR1_mutant"):
    dr = sim.dose_response(model, "fulvestrant", doses, readout="growth_rate", at_time=72.0,
                           phenotype=phenotype, normalize="inhibition")
    ax.semilogx(dr.doses[1:], dr.response[1:], "o-",
                label=f"{phenotype or 'parental'}: IC50 {dr.fit.ic50:.2g} nM")
ax.set(xlabel="fulvestrant (nM)", ylabel="% growth inhibition at 72 h")
ax.legend()"""),
    ("md", """## 6. PI3K pathway lesions: PTEN loss, PIK3CA mutation, active Akt

Each lesion switches on PI3K-Akt without growth factors. Akt and S6K1 phosphorylate ER,
so tamoxifen works less; everolimus (for active Akt) or a PI3K inhibitor brings it back."""),
    ("code", """values = {}
for phenotype in ("PTEN_loss", "PIK3CA_mutant", "AKT_myr"):
    values[f"{phenotype}\\ntamoxifen"] = growth({"tamoxifen": 300.0}, phenotype)
    values[f"{phenotype}\\n+ everolimus"] = growth({"tamoxifen": 300.0, "everolimus": 20.0},
                                                   phenotype)
values["parental\\ntamoxifen"] = growth({"tamoxifen": 300.0})
fig, ax = plt.subplots(figsize=(11, 3.6))
bars(ax, values, "Tamoxifen with and without everolimus")"""),
    ("md", """## 7. CYP2D6 poor metabolisers

Tamoxifen is a prodrug: CYP2D6 makes endoxifen. Poor metabolisers make about a quarter as
much. An aromatase inhibitor does not need CYP2D6."""),
    ("code", """values = {}
for phenotype in (None, "CYP2D6_poor"):
    name = phenotype or "normal"
    tr = run({"tamoxifen": 300.0}, phenotype)
    print(f"{name}: endoxifen {tr['endoxifen'][-1]:.1f} nM")
    values[f"{name}\\ntamoxifen"] = tr["growth_rate"][-1]
    values[f"{name}\\nletrozole"] = growth({"letrozole": 100.0}, phenotype)
fig, ax = plt.subplots(figsize=(8, 3.6))
bars(ax, values, "CYP2D6 and tamoxifen")"""),
    ("md", """## 8. Combinations in LTED cells: fulvestrant + a PI3K inhibitor

Cells adapted to estrogen deprivation still need ER and also run on PI3K. `sim.combination`
runs a dose matrix and scores synergy (Bliss, Loewe, HSA, ZIP; positive = synergy)."""),
    ("code", """combo = sim.combination(model, ("fulvestrant", [10.0, 100.0]), ("alpelisib", [300.0, 1000.0]),
                        readout="growth_rate", at_time=72.0, phenotype="LTED")
print({method: round(score, 1) for method, score in combo.summary.items()})
fig, ax = plt.subplots(figsize=(5, 4))
combo.plot_heatmap("bliss", ax=ax)"""),
    ("md", """## Exercises

1. Which phenotype makes letrozole + lapatinib most useful? Compare `growth()` in each of
   `sim.phenotypes().index`.
2. Give fulvestrant 500 mg as in the clinic (loading doses on days 1, 15, 29, then monthly):
   look at `sim.Treatment` and `sim.Schedule`.
3. Run `crosstalk atlas` from a terminal and read `out/atlas/index.html`: which mechanism
   surprised you?"""),
]


def build():
    """The tutorial as an nbformat notebook (cells without outputs)."""
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


if __name__ == "__main__":
    path = Path(__file__).with_name("tutorial.ipynb")
    nbformat.write(build(), path)
    print(f"wrote {path}")
