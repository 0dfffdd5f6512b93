"""Draw docs/images/network.png from the bundled model (matplotlib only; the
layout and links are simulator.bundled.network, shared with the teaching lab).

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
from simulator.bundled.network import COLORS, DRUG_TARGETS, MODULES, edges, layout  # noqa: E402

# one label per site of action (drugs sharing a target drawn together)
TARGET_DRUGS = {}
for _drug, _target in DRUG_TARGETS.items():
    TARGET_DRUGS.setdefault(_target, []).append(_drug)


def main(path=Path(__file__).parent / "images" / "network.png"):
    doc = libsbml.readSBMLFromFile(str(MODEL_SBML))
    model = doc.getModel()
    conv, reg = edges(model)
    pos = layout()
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
    for target, drugs in TARGET_DRUGS.items():
        x, y = pos[target]
        ax.text(x, y - 0.42, "⊣ " + "/".join(drugs), ha="center", va="center", fontsize=7, color="#b00020",
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
