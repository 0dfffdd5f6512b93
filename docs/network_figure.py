"""Draw docs/images/network.png from the bundled model (matplotlib only).

Nodes are the model's species, grouped in columns by module; solid arrows are conversions
(reactant -> product), dashed arrows are regulatory influences: a species that appears in
a reaction's rate law (directly or through assignment rules) acting on the reaction's
product. Drugs are drawn as red labels on their targets.

    python docs/network_figure.py
"""
from pathlib import Path

import libsbml
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from simulator.bundled import MODEL_SBML  # noqa: E402

MODULES = {
    "hormone": ["Arom", "Arom_inact", "endoxifen"],
    "ER": ["ER", "ER_E2", "ER_T", "ER_F", "adaptation"],
    "RTK": ["EGFR", "pEGFR", "HER2", "HER2_p", "HER2_Tz", "HER2_Tz_p", "HER3", "pHER3",
            "IGF1R", "pIGF1R", "IRS1", "IRS1_pY", "IRS1_pS"],
    "PI3K-Akt": ["PIP3", "mTORC2_active", "Akt_T", "Akt_S", "Akt_TS", "FOXO_nuclear"],
    "mTORC1": ["TSC2_p", "mTORC1_active", "FKBP12_drug", "pS6K1", "pS6", "p4EBP1"],
    "MAPK": ["SOS_p", "RasGTP", "Raf_active", "pMEK", "pERK"],
    "fate": ["cycD_mRNA", "cyclinD1", "cyclinE", "pRb", "tumor_burden"],
}
COLORS = {"hormone": "#f4c7c3", "ER": "#f9e0a8", "RTK": "#c9e4f6", "PI3K-Akt": "#d5ecc2",
          "mTORC1": "#c8ead8", "MAPK": "#e1d5f0", "fate": "#e6e6e6"}
DRUG_TARGETS = {"letrozole/anastrozole/exemestane": "Arom", "tamoxifen": "endoxifen",
                "fulvestrant": "ER_F", "lapatinib/gefitinib": "pEGFR", "trastuzumab": "HER2_Tz",
                "alpelisib/buparlisib/taselisib/dactolisib": "PIP3",
                "everolimus/temsirolimus": "FKBP12_drug", "azd8055/dactolisib": "pS6K1",
                "capivasertib": "Akt_TS", "trametinib": "pMEK",
                "palbociclib/ribociclib/abemaciclib": "pRb"}


def _names(ast, out):
    if ast is None:
        return
    if ast.getType() == libsbml.AST_NAME:
        out.add(ast.getName())
    for i in range(ast.getNumChildren()):
        _names(ast.getChild(i), out)


def edges(model):
    species = {s.getId() for s in model.getListOfSpecies()}
    rules = {r.getVariable(): r.getMath() for r in model.getListOfRules() if r.isAssignment()}

    def expand(names, seen=None):
        seen = set() if seen is None else seen
        out = set()
        for n in names:
            if n in species:
                out.add(n)
            elif n in rules and n not in seen:
                seen.add(n)
                sub = set()
                _names(rules[n], sub)
                out |= expand(sub, seen)
        return out

    conv, reg = set(), set()
    for rx in model.getListOfReactions():
        reac = [r.getSpecies() for r in rx.getListOfReactants()]
        prod = [p.getSpecies() for p in rx.getListOfProducts()]
        names = set()
        _names(rx.getKineticLaw().getMath(), names)
        mods = expand(names) - set(reac) - set(prod)
        for a in reac:
            for b in prod:
                conv.add((a, b))
        for m in mods:
            for b in (prod or reac):
                if m != b:
                    reg.add((m, b))
    return conv, reg


def main(path=Path(__file__).parent / "images" / "network.png"):
    doc = libsbml.readSBMLFromFile(str(MODEL_SBML))
    model = doc.getModel()
    conv, reg = edges(model)
    pos = {}
    for col, (mod, ids) in enumerate(MODULES.items()):
        for row, sid in enumerate(ids):
            pos[sid] = (col * 2.2, -row * 1.0 - (0.5 if col % 2 else 0.0))
    missing = {s.getId() for s in model.getListOfSpecies()} - set(pos)
    assert not missing, f"species without a module: {missing}"
    fig, ax = plt.subplots(figsize=(17, 11))
    for a, b in reg:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(
            arrowstyle="-|>", color="#9a9a9a", lw=0.5, ls="--", alpha=0.45,
            shrinkA=14, shrinkB=14, connectionstyle="arc3,rad=0.15"))
    for a, b in conv:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        rad = 0.45 if x0 == x1 and abs(y1 - y0) > 1.2 else 0.0  # skip over middle nodes
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(
            arrowstyle="-|>", color="black", lw=1.2, shrinkA=14, shrinkB=14,
            connectionstyle=f"arc3,rad={rad}"))
    for mod, ids in MODULES.items():
        for sid in ids:
            x, y = pos[sid]
            ax.text(x, y, sid, ha="center", va="center", fontsize=8.5, zorder=5,
                    bbox=dict(boxstyle="round,pad=0.3", fc=COLORS[mod], ec="#555555", lw=0.6))
        x0 = pos[ids[0]][0]
        ax.text(x0, 1.0, mod, ha="center", fontsize=12, weight="bold")
    for drug, target in DRUG_TARGETS.items():
        x, y = pos[target]
        ax.text(x, y - 0.42, "⊣ " + drug, ha="center", va="center", fontsize=7, color="#b00020",
                zorder=6)
    ax.set_xlim(-1.3, 2.2 * (len(MODULES) - 1) + 1.3)
    ax.set_ylim(-13.8, 1.6)
    ax.axis("off")
    ax.set_title(f"er_crosstalk: {model.getNumSpecies()} species, {model.getNumReactions()} "
                 "reactions (solid: conversion, dashed: rate-law influence)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
