"""The bundled model's network as a figure: species by module, their links, drug targets, and
the words a student reads instead of ids.

Shared by ``docs/network_figure.py`` (the static figure of docs/model.md) and the teaching lab
(:mod:`simulator.lab`, the network coloured by activity). Links are read from the SBML:
conversions (reactant -> product) and influences (a species in a reaction's rate law,
directly or through assignment rules, acting on the reaction's product).
"""
from __future__ import annotations

from functools import cache

import libsbml

from simulator.bundled import MODEL_SBML

__all__ = ["MODULES", "COLORS", "DRUG_TARGETS", "SPECIES_LABELS", "READOUT_LABELS",
           "PHENOTYPE_LABELS", "INPUT_LABELS", "edges", "layout", "readout_label",
           "phenotype_label"]

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
# drug (catalogue id) -> the species drawn as its site of action
DRUG_TARGETS = {"letrozole": "Arom", "anastrozole": "Arom", "exemestane": "Arom",
                "tamoxifen": "endoxifen", "fulvestrant": "ER_F", "lapatinib": "pEGFR",
                "gefitinib": "pEGFR", "erlotinib": "pEGFR", "trastuzumab": "HER2_Tz", "alpelisib": "PIP3",
                "buparlisib": "PIP3", "taselisib": "PIP3", "everolimus": "FKBP12_drug",
                "temsirolimus": "FKBP12_drug", "dactolisib": "PIP3", "azd8055": "pS6K1",
                "capivasertib": "Akt_TS", "trametinib": "pMEK", "palbociclib": "pRb",
                "ribociclib": "pRb", "abemaciclib": "pRb"}

SPECIES_LABELS = {
    "Arom": "aromatase", "Arom_inact": "aromatase, inactivated", "endoxifen": "endoxifen",
    "ER": "ER, free", "ER_E2": "ER + estradiol", "ER_T": "ER + tamoxifen",
    "ER_F": "ER + fulvestrant", "adaptation": "adaptation",
    "EGFR": "EGFR", "pEGFR": "EGFR, active", "HER2": "HER2", "HER2_p": "HER2, active",
    "HER2_Tz": "HER2 + trastuzumab", "HER2_Tz_p": "HER2 + trastuzumab, active",
    "HER3": "HER3", "pHER3": "HER3, active", "IGF1R": "IGF-1R", "pIGF1R": "IGF-1R, active",
    "IRS1": "IRS-1", "IRS1_pY": "IRS-1, active (pY)", "IRS1_pS": "IRS-1, blocked (pS)",
    "PIP3": "PIP3", "mTORC2_active": "mTORC2, active", "Akt_T": "Akt pT308",
    "Akt_S": "Akt pS473", "Akt_TS": "Akt, fully active", "FOXO_nuclear": "FOXO, nuclear",
    "TSC2_p": "TSC2, blocked", "mTORC1_active": "mTORC1, active",
    "FKBP12_drug": "FKBP12 + rapalog", "pS6K1": "S6K1, active", "pS6": "S6, phosphorylated",
    "p4EBP1": "4E-BP1, phosphorylated", "SOS_p": "SOS, blocked", "RasGTP": "Ras, active",
    "Raf_active": "Raf, active", "pMEK": "MEK, active", "pERK": "ERK, active",
    "cycD_mRNA": "cyclin D1 mRNA", "cyclinD1": "cyclin D1", "cyclinE": "cyclin E1-CDK2",
    "pRb": "Rb, phosphorylated",
    "tumor_burden": "tumour burden",
}

# readouts a student can plot: id -> words (with the unit where it has one)
READOUT_LABELS = {
    "tumor_burden": "tumour burden (cells relative to day 0)",
    "growth_rate": "growth rate (per day)",
    "proliferation": "proliferation (per day)",
    "apoptosis": "cell death (per day)",
    "ER_activity": "ER activity (transcription)",
    "ER_total": "ER protein",
    "pER": "phosphorylated ER",
    "E2": "estradiol at the tumour (nM)",
    "endoxifen": "endoxifen (nM)",
    "EGFR_total": "EGFR protein",
    "HER2_total": "HER2 protein",
    "pHER2": "active HER2",
    "pHER3": "active HER3",
    "IGF1R_total": "IGF-1R protein",
    "IRS1_pY": "active IRS-1",
    "PIP3": "PIP3 (PI3K product)",
    "pAkt_T308": "Akt phosphorylated at T308",
    "pAkt_S473": "Akt phosphorylated at S473",
    "pS6": "phospho-S6 (mTORC1 output)",
    "p4EBP1": "phospho-4E-BP1",
    "pERK": "active ERK",
    "FOXO_nuclear": "FOXO in the nucleus",
    "cyclinD1": "cyclin D1",
    "cyclinE": "cyclin E1-CDK2",
    "pRb": "phosphorylated Rb",
    "E2F_activity": "E2F activity (0 to 1)",
    "adaptation": "adaptation to estrogen loss (0 to 1)",
}

PHENOTYPE_LABELS = {
    "HER2_amplified": "HER2 amplified", "PTEN_loss": "PTEN loss",
    "PIK3CA_mutant": "PIK3CA mutant", "ESR1_mutant": "ESR1 mutant (Y537S-like)",
    "AKT_myr": "constitutively active Akt", "LTED": "long-term estrogen-deprived (LTED)",
    "CYP2D6_poor": "CYP2D6 poor metaboliser", "ER_low": "low ER",
    "RB1_loss": "RB1 loss", "CCNE1_high": "cyclin E1 amplified",
}

# inputs of the medium a student can change: id -> words (nM)
INPUT_LABELS = {"androstenedione": "androstenedione (E2 precursor)",
                "E2_medium": "estradiol added", "EGF": "EGF", "HRG": "heregulin",
                "IGF1": "IGF-1"}


def readout_label(rid: str) -> str:
    """Words for a readout id (the id itself with spaces when it has no label)."""
    return READOUT_LABELS.get(rid) or SPECIES_LABELS.get(rid) or rid.replace("_", " ")


def phenotype_label(name: str) -> str:
    return PHENOTYPE_LABELS.get(name, name.replace("_", " "))


def _names(ast, out):
    if ast is None:
        return
    if ast.getType() == libsbml.AST_NAME:
        out.add(ast.getName())
    for i in range(ast.getNumChildren()):
        _names(ast.getChild(i), out)


def edges(model) -> tuple[set, set]:
    """``(conversions, influences)`` of a libsbml model, each a set of (source, target) ids."""
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


def layout(column_width: float = 2.2) -> dict:
    """Species id -> (x, y): one column per module, odd columns shifted half a row."""
    pos = {}
    for col, ids in enumerate(MODULES.values()):
        for row, sid in enumerate(ids):
            pos[sid] = (col * column_width, -row * 1.0 - (0.5 if col % 2 else 0.0))
    return pos


@cache
def bundled_edges() -> tuple[frozenset, frozenset]:
    """:func:`edges` of the bundled model (read once)."""
    doc = libsbml.readSBMLFromFile(str(MODEL_SBML))
    conv, reg = edges(doc.getModel())
    return frozenset(conv), frozenset(reg)
