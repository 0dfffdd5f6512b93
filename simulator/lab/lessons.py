"""Lessons: one per resistance mechanism of the atlas, each a preset experiment for the explorer.

The words a student reads are not written twice. A lesson's explanation is its atlas
section's (:data:`simulator.bundled.atlas.SECTIONS`); "how the model does it" is quoted from
``docs/model.md`` (the bullets of the sections a lesson names, parsed from the file, and the
share of perturbed parameter draws in which the behaviour still holds, from its robustness
table); sources come from the model's tables (``parameters.csv`` and the catalogue's
phenotypes and drugs). What is written here is what only a lesson has: the preset, the
question for the class with its answer, and the "try this next" experiment.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from simulator.bundled import MODELS_DIR, PARAMETERS_CSV
from simulator.bundled.atlas import SECTIONS
from simulator.lab.state import Arm, DrugDose, LabState
from simulator.trials import Trial

__all__ = ["Lesson", "LESSONS", "lesson", "model_notes", "robustness_share", "sources",
           "MODEL_MD", "TRIALS_MD", "explanation", "cannot_say", "trial_path", "trial_caveat"]

MODEL_MD = Path(__file__).resolve().parents[2] / "docs" / "model.md"
TRIALS_MD = MODEL_MD.with_name("trials.md")


def _arm(*drugs) -> Arm:
    return Arm(tuple(DrugDose(d, float(nM)) for d, nM in drugs))


def _regimen(*drugs) -> Arm:
    """An arm of clinical regimens: ``(drug, mg, every hours)``."""
    return Arm(tuple(DrugDose(d, float(mg), unit="mg", every_h=float(h)) for d, mg, h in drugs))


def _state(*arms, cell=(), readouts=("tumor_burden", "growth_rate"), hours=336.0, medium=(),
           key="") -> LabState:
    return LabState(cell=tuple(cell), medium=tuple(sorted(medium)), arms=tuple(arms),
                    readouts=tuple(readouts), hours=float(hours), lesson=key)


@dataclass(frozen=True)
class Lesson:
    """One lesson.

    Attributes
    ----------
    key : str
        The atlas behaviour id it teaches (``b02_her2_tamoxifen``), or its own key.
    title : str
    preset, try_next : LabState
        The experiment that shows the mechanism, and the one that undoes the resistance.
    question, answer, try_next_text : str
    notes : tuple of (str, str)
        ``(section heading starts with, bullet contains)`` pairs quoted from docs/model.md.
    params : tuple of str
        Parameters whose published sources are cited.
    phenotypes, drugs : tuple of str
        Catalogue entries whose sources are cited.
    bliss : tuple, optional
        ``(drug_a, doses_a, drug_b, doses_b, phenotype)`` for a Bliss map.
    trial : tuple, optional
        ``(bundled trial name, patients per arm, seed, draws)``: a virtual clinical trial
        (``sim.virtual_trial``) the lesson runs on demand, with its Kaplan-Meier plot.
    placeholder : str
        A lesson that is not there yet says why.
    section_title : str
        The atlas section whose explanation it uses (default: the one with ``key``).
    """

    key: str
    title: str
    preset: LabState
    question: str
    answer: str
    try_next: LabState
    try_next_text: str
    notes: tuple = ()
    params: tuple = ()
    phenotypes: tuple = ()
    drugs: tuple = ()
    bliss: tuple | None = None
    trial: tuple | None = None
    placeholder: str = ""
    section_title: str = ""
    extra: dict = field(default_factory=dict, compare=False)


def _lessons() -> tuple:
    out = []

    def add(key, title, preset, question, answer, try_next, try_next_text, **kw):
        preset = preset.with_(lesson=key)
        try_next = try_next.with_(lesson=key)
        out.append(Lesson(key, title, preset, question, answer, try_next, try_next_text, **kw))

    ro = ("tumor_burden", "ER_activity", "ER_total")
    add("b01_e2_and_er", "Estrogen, ER and the three endocrine drug classes",
        _state(_arm(("letrozole", 100)), _arm(("tamoxifen", 300)), _arm(("fulvestrant", 100)),
               readouts=ro),
        "All three drugs slow the tumour. Which one takes estrogen away, which one sits on "
        "ER, and which one removes the ER protein itself? Look at the ER protein row.",
        "Letrozole blocks aromatase, so less estradiol is made: ER stays but is idle. "
        "Tamoxifen (as endoxifen) occupies ER and even stabilises it: ER protein rises. "
        "Fulvestrant occupies ER and makes it degrade: ER protein falls to a fraction.",
        _state(_arm(("letrozole", 100)), _arm(("tamoxifen", 300)), _arm(("fulvestrant", 100)),
               cell=("ESR1_mutant",), readouts=ro),
        "Make the cell ESR1 mutant: ER works without estrogen. Which drug class loses its "
        "effect, and which still works?",
        notes=(("1.", "E2 :="), ("2.", "Degradation"), ("2.", "ER_activity =")),
        params=("Kd_E2", "kdeg_ER_F", "kdeg_ER_T", "Ki_letrozole"),
        drugs=("letrozole", "tamoxifen", "fulvestrant"))

    ro = ("tumor_burden", "growth_rate", "ER_activity", "pERK")
    add("b02_her2_tamoxifen", "HER2 amplification makes tamoxifen fail",
        _state(_arm(("tamoxifen", 300)), cell=("HER2_amplified",), readouts=ro),
        "In this HER2-amplified cell, does tamoxifen slow the tumour? Compare ER activity "
        "with the untreated cell: what is tamoxifen-bound ER doing?",
        "Tamoxifen does not slow it: the tumour grows as fast or faster. HER2 drives ERK and "
        "Akt, which phosphorylate ER, and HER2 recruits coactivators, so tamoxifen-bound ER "
        "becomes a partial agonist: ER activity stays up instead of falling.",
        _state(_arm(("tamoxifen", 300)), _arm(("tamoxifen", 300), ("lapatinib", 1000)),
               _arm(("tamoxifen", 300), ("trastuzumab", 100)), cell=("HER2_amplified",),
               readouts=ro),
        "Add a HER2 blocker to tamoxifen: lapatinib (kinase inhibitor) or trastuzumab "
        "(antibody). Which gives tamoxifen its effect back more fully?",
        notes=(("2.", "ER_activity ="), ("3.", "HER2 activation"), ("3.", "Trastuzumab")),
        params=("a_T_HER2", "K_HER2_coact", "IC50_lapatinib_HER2", "koff_trastuzumab"),
        phenotypes=("HER2_amplified",), drugs=("tamoxifen", "lapatinib", "trastuzumab"))

    ro = ("pS6", "pAkt_S473", "IRS1_pY")
    add("b03_everolimus_feedback", "Everolimus switches Akt on: the S6K1 - IRS-1 feedback",
        _state(_arm(("everolimus", 20)), readouts=ro, hours=72.0),
        "Everolimus blocks mTORC1, and phospho-S6 falls as intended. What happens to Akt, "
        "the kinase upstream of mTORC1? Why?",
        "Akt S473 phosphorylation rises within hours. S6K1 normally phosphorylates IRS-1 on "
        "serines and damps IGF-1R signalling to PI3K; with S6K1 off, active IRS-1 rises, "
        "PI3K makes more PIP3 and Akt is switched on: the drug relieves its own brake.",
        _state(_arm(("everolimus", 20)), _arm(("everolimus", 20), ("alpelisib", 1000)),
               readouts=ro, hours=72.0),
        "Add the PI3K inhibitor alpelisib to everolimus: does the Akt rise go away?",
        notes=(("3.", "IRS-1"), ("4.", "Rapalogs"), ("4.", "S6K1")),
        params=("k_IRS1_pS", "Kd_FKBP12_everolimus", "w_PI3K_IRS1"),
        drugs=("everolimus", "alpelisib"))

    ro = ("pAkt_T308", "pAkt_S473", "pS6")
    add("b04_pi3ki_vs_everolimus", "PI3K inhibitors lower both Akt sites; rapalogs do not",
        _state(_arm(("everolimus", 20)), _arm(("alpelisib", 1000)), _arm(("buparlisib", 1000)),
               readouts=ro, hours=72.0),
        "Which drugs lower Akt phosphorylation at T308 and at S473, and which leave S473 "
        "up? Where in the pathway does each drug act?",
        "Alpelisib and buparlisib cut PIP3, so both PDK1 (T308) and mTORC2 (S473) lose "
        "their substrate at the membrane: both sites fall. Everolimus acts below Akt on "
        "mTORC1, leaves mTORC2 alone and relieves the IRS-1 feedback: S473 does not fall.",
        _state(_arm(("everolimus", 20)), _arm(("alpelisib", 1000)),
               _arm(("everolimus", 20), ("alpelisib", 1000)), readouts=ro, hours=72.0),
        "Combine everolimus with alpelisib: both Akt and S6 go down together.",
        notes=(("4.", "Inhibitors act"), ("4.", "mTORC2 activation")),
        params=("IC50_alpelisib_a", "IC50_buparlisib_a", "k_S473"),
        drugs=("everolimus", "alpelisib", "buparlisib"))

    ro = ("tumor_burden", "growth_rate", "HER2_total", "adaptation")
    add("b05_estrogen_deprivation", "Estrogen deprivation and escape through growth factor "
                                    "receptors",
        _state(_arm(("letrozole", 100)), readouts=ro, hours=4320.0),
        "Six months of letrozole. Growth stops at first; what happens after a few months, "
        "and what happens to the HER2 receptor meanwhile?",
        "Growth recovers over weeks to months. Estrogen-bound ER represses the HER2 and "
        "EGFR genes; without estrogen the cell slowly adapts (the adaptation readout), "
        "HER2, EGFR and IGF-1R rise and drive ERK and Akt: the route to long-term "
        "estrogen-deprived (LTED) cells.",
        _state(_arm(("letrozole", 100)), _arm(("letrozole", 100), ("lapatinib", 1000)),
               _arm(("letrozole", 100), ("everolimus", 20)), readouts=ro, hours=4320.0),
        "Block the escape route: add lapatinib (EGFR/HER2) or everolimus (mTORC1) to "
        "letrozole. Which one keeps the tumour down longer?",
        notes=(("2.", "Slow adaptation"), ("2.", "ER_repression"), ("3.", "EGFR and HER2 synthesis")),
        params=("k_adapt", "rep_ER_RTK", "a_adapt_EGFR"),
        phenotypes=("LTED",), drugs=("letrozole", "lapatinib"))

    ro = ("tumor_burden", "ER_activity", "growth_rate")
    add("b06_esr1_mutant", "ESR1 mutation: ER active without estrogen",
        _state(_arm(("letrozole", 100)), _arm(("fulvestrant", 100)), cell=("ESR1_mutant",),
               readouts=ro),
        "In this ESR1-mutant cell, compare letrozole and fulvestrant. Why does letrozole "
        "lose most of its effect?",
        "The mutant ER is active without estradiol, so taking estradiol away (letrozole) "
        "leaves most ER activity in place. Fulvestrant still binds and degrades the mutant "
        "receptor, though it needs a higher dose than in parental cells.",
        _state(_arm(("fulvestrant", 100)), _arm(("fulvestrant", 1000)),
               _arm(("fulvestrant", 100), ("alpelisib", 1000)), cell=("ESR1_mutant",),
               readouts=ro),
        "Raise the fulvestrant dose tenfold, or add a PI3K inhibitor: how far can growth "
        "be pushed down?",
        notes=(("2.", "ER -> ER_E2"), ("2.", "ER_activity =")),
        params=("kon_fulv", "koff_fulv"),
        phenotypes=("ESR1_mutant",), drugs=("letrozole", "fulvestrant"))

    ro = ("tumor_burden", "pER", "growth_rate")
    add("b07_akt_myr", "Constitutive Akt phosphorylates ER",
        _state(_arm(("tamoxifen", 300)), cell=("AKT_myr",), readouts=ro),
        "With Akt always on, how well does tamoxifen work? Look at phosphorylated ER.",
        "Poorly: Akt and its target S6K1 phosphorylate ER, which then keeps part of its "
        "activity even with tamoxifen bound.",
        _state(_arm(("tamoxifen", 300)), _arm(("tamoxifen", 300), ("everolimus", 20)),
               cell=("AKT_myr",), readouts=ro),
        "Add everolimus: it removes S6K1's share of ER phosphorylation and restores "
        "tamoxifen.",
        notes=(("2.", "ER phosphorylation"), ("4.", "mTORC2 activation")),
        params=("kp_ER_Akt", "kp_ER_S6K"),
        phenotypes=("AKT_myr",), drugs=("tamoxifen", "everolimus"))

    ro = ("tumor_burden", "PIP3", "pAkt_S473")
    add("b08_pten_loss", "PTEN loss: PIP3 piles up and HER2 blockade fails",
        _state(_arm(("trastuzumab", 100)), cell=("HER2_amplified", "PTEN_loss"), readouts=ro),
        "This HER2-amplified cell has also lost PTEN. Does trastuzumab still work? Look at "
        "PIP3 and Akt.",
        "Much less: PTEN removes PIP3, so without it PIP3 and Akt stay high even when "
        "trastuzumab takes HER2's input away. A PI3K-driven remainder of growth is left.",
        _state(_arm(("trastuzumab", 100)), _arm(("trastuzumab", 100), ("buparlisib", 1000)),
               _arm(("trastuzumab", 100), ("alpelisib", 1000)),
               cell=("HER2_amplified", "PTEN_loss"), readouts=ro),
        "Add a PI3K inhibitor to trastuzumab. Which works better here, the p110-alpha "
        "selective alpelisib or the pan-PI3K buparlisib?",
        notes=(("4.", "=> PIP3"), ("4.", "Inhibitors act")),
        params=("k_PTEN", "IC50_buparlisib_b"),
        phenotypes=("PTEN_loss", "HER2_amplified"), drugs=("trastuzumab", "buparlisib"))

    ro = ("tumor_burden", "pAkt_S473", "growth_rate")
    add("b09_pik3ca_mutant", "PIK3CA mutation: PI3K on without a signal",
        _state(_arm(("letrozole", 100)), cell=("PIK3CA_mutant",), readouts=ro),
        "In this PIK3CA-mutant cell, how much does letrozole slow the tumour, and what "
        "happens to Akt?",
        "Letrozole slows it, but Akt stays on: mutant p110-alpha is active without "
        "receptor input, keeping a PI3K-driven share of growth and survival.",
        _state(_arm(("letrozole", 100)), _arm(("letrozole", 100), ("alpelisib", 1000)),
               cell=("PIK3CA_mutant",), readouts=ro),
        "Add alpelisib, which targets p110-alpha (the SOLAR-1 combination, with "
        "fulvestrant in the clinic).",
        notes=(("4.", "PI3K_input ="), ("4.", "Inhibitors act")),
        params=("IC50_alpelisib_a", "IC50_taselisib_a"),
        phenotypes=("PIK3CA_mutant",), drugs=("alpelisib",))

    ro = ("ER_activity", "pER", "growth_rate")
    no_e2 = (("androstenedione", 0.0), ("EGF", 10.0))
    add("b11_ligand_independent_er", "Growth factors switch ER on without estrogen",
        _state(_arm(("letrozole", 100)), _arm(("lapatinib", 1000)), medium=no_e2,
               readouts=ro, hours=72.0),
        "This medium has no estrogen precursor but plenty of EGF. ER is still active. Why "
        "does letrozole do nothing here, and what does lapatinib do?",
        "There is no estradiol for letrozole to take away. ER is switched on by "
        "phosphorylation: EGF -> EGFR -> ERK (and Akt/S6K1) phosphorylate ER. Lapatinib "
        "blocks EGFR/HER2, so ER phosphorylation and activity fall.",
        _state(_arm(("fulvestrant", 100)), _arm(("fulvestrant", 100), ("lapatinib", 1000)),
               medium=no_e2, readouts=ro, hours=72.0),
        "Remove ER altogether with fulvestrant, alone or with lapatinib.",
        notes=(("2.", "ER phosphorylation"), ("5.", "RasGTP")),
        params=("kp_ER_ERK", "kp_ER_Akt", "IC50_lapatinib_EGFR"),
        drugs=("lapatinib",))

    ro = ("tumor_burden", "endoxifen", "ER_activity")
    add("b14_cyp2d6_poor", "CYP2D6 poor metabolisers make less endoxifen",
        _state(_arm(("tamoxifen", 300)), cell=("CYP2D6_poor",), readouts=ro),
        "Tamoxifen is a prodrug. In a CYP2D6 poor metaboliser, how much endoxifen is made, "
        "and how well is the tumour held?",
        "About a quarter of the endoxifen, so less ER is occupied and growth is suppressed "
        "less at the same dose.",
        _state(_arm(("tamoxifen", 300)), _arm(("letrozole", 100)), _arm(("fulvestrant", 100)),
               cell=("CYP2D6_poor",), readouts=ro),
        "Switch to a drug that needs no activation: letrozole or fulvestrant.",
        notes=(("1.", "endoxifen"),), params=("k_endox_form",),
        phenotypes=("CYP2D6_poor",), drugs=("tamoxifen",))

    ro = ("tumor_burden", "growth_rate", "pAkt_S473")
    add("synergy", "Combination synergy: the Bliss map",
        _state(_arm(("fulvestrant", 100)), _arm(("alpelisib", 1000)),
               _arm(("fulvestrant", 100), ("alpelisib", 1000)), cell=("LTED",), readouts=ro),
        "In cells adapted to estrogen deprivation, does fulvestrant plus alpelisib do more "
        "than you would expect from each alone? The map shows the Bliss excess: observed "
        "inhibition minus the inhibition expected if the drugs acted independently.",
        "Yes where the map is red: the two drugs close two routes (ER and PI3K) that "
        "otherwise cover for each other, so together they beat either alone.",
        _state(_arm(("fulvestrant", 100), ("alpelisib", 1000)),
               _arm(("fulvestrant", 100), ("everolimus", 20)), cell=("LTED",), readouts=ro),
        "Swap alpelisib for everolimus (a rapalog). Does the pair still beat fulvestrant "
        "alone?",
        notes=(("4.", "Inhibitors act"),), params=("IC50_alpelisib_a",),
        phenotypes=("LTED",), drugs=("fulvestrant", "alpelisib"),
        bliss=("fulvestrant", (0.0, 1.0, 10.0, 100.0), "alpelisib",
               (0.0, 30.0, 300.0, 3000.0), ("LTED",)),
        section_title="LTED cells: fulvestrant + a PI3K inhibitor")

    ro = ("tumor_burden", "growth_rate", "pERK")
    her2 = ("HER2_amplified",)
    add("virtual_trial", "A virtual clinical trial: anastrozole with or without trastuzumab "
                         "(TAnDEM)",
        _state(_regimen(("anastrozole", 1, 24)),
               _regimen(("anastrozole", 1, 24), ("trastuzumab", 140, 168)),
               cell=her2, readouts=ro, hours=672.0),
        "The explorer shows one HER2-amplified cell on the TAnDEM regimens (anastrozole 1 mg "
        "daily, trastuzumab 2 mg/kg weekly). The virtual trial gives them to 100 virtual "
        "patients per arm whose tumours differ. In the trial, which arm stays free of "
        "progression longer? Is the simulated hazard ratio the one TAnDEM published (0.63), "
        "and why do patients on the same drugs progress at different times?",
        "Trastuzumab delays progression: HER2 drives growth past the aromatase inhibitor, "
        "and blocking it takes that route away, so the trastuzumab curve lies above the "
        "anastrozole one (hazard ratio below 1). Patients progress at different times "
        "because their tumours differ: PIK3CA mutations, a small ESR1-mutant subclone, ER "
        "levels, how fast they adapt to estrogen deprivation, how fast they clear the drugs "
        "and how fast the tumour grows (doubling times differ between tumours by more than "
        "tenfold). The simulated hazard ratio (about 0.73 here, 0.68 in the larger benchmark "
        "run) is a little above TAnDEM's 0.63 and inside its confidence interval: about "
        "the benefit the patients had. Where the model still goes wrong is in "
        "which trials show a benefit at all (see the caveat under the plot). The medians "
        "move in steps of the 8-weekly scans: compare the whole curves and the hazard ratio.",
        _state(_regimen(("letrozole", 2.5, 24)),
               _regimen(("letrozole", 2.5, 24), ("lapatinib", 1500, 24)),
               cell=her2, readouts=ro, hours=672.0),
        "The same question with a HER2 kinase inhibitor: letrozole with or without lapatinib "
        "(the EGF30008 trial, HER2-positive patients). Does the cell respond like it did to "
        "trastuzumab? The trial library also holds EGF30008 and BOLERO-2 "
        "(crosstalk trial simulator/models/trials/egf30008_her2pos.toml).",
        params=("a_T_HER2", "koff_trastuzumab"),
        phenotypes=("HER2_amplified",), drugs=("anastrozole", "trastuzumab"),
        trial=("tandem", 100, 0, 2),
        section_title="Clinical trials at the cell level: EGF30008, TAnDEM, BOLERO-2")
    return tuple(out)


LESSONS = _lessons()
_BY_KEY = {les.key: les for les in LESSONS}


def lesson(key: str) -> Lesson:
    """The lesson with this key (KeyError otherwise)."""
    return _BY_KEY[key]


# --------------------------------------------------------------------------- drawn from elsewhere

def explanation(les: Lesson) -> str:
    """The atlas's explanation of the mechanism the lesson teaches."""
    for sec in SECTIONS:
        if (les.section_title and sec.title == les.section_title) or \
                (not les.section_title and sec.key == les.key):
            return sec.explanation
    return ""


@cache
def _model_md() -> tuple:
    """docs/model.md as ``((heading, [bullets or paragraphs]), ...)``; empty when the file is
    not there (an installed wheel carries no docs)."""
    if not MODEL_MD.exists():
        return ()
    sections, heading, items = [], "", []
    for line in MODEL_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            if heading:
                sections.append((heading, tuple(items)))
            heading, items = line.lstrip("#").strip(), []
        elif line.startswith("* "):
            items.append(line[2:].strip())
        elif line.startswith("  ") and items and line.strip():
            items[-1] += " " + line.strip()
        elif line.strip() and not line.startswith("|"):
            items.append(line.strip())
    if heading:
        sections.append((heading, tuple(items)))
    return tuple(sections)


def model_notes(les: Lesson) -> list[str]:
    """The bullets of docs/model.md the lesson names (Markdown), in order."""
    out = []
    for head, needle in les.notes:
        for heading, items in _model_md():
            if heading.startswith(head):
                out += [i for i in items if needle in i and i not in out][:1]
    return out


def cannot_say() -> list[str]:
    """The bullets of docs/model.md's "What the model cannot say"."""
    for heading, items in _model_md():
        if heading.startswith("What the model cannot say"):
            return list(items)
    return []


def trial_path(les: Lesson) -> Path:
    """The bundled trial TOML of a trial lesson."""
    return MODELS_DIR / "trials" / f"{les.trial[0]}.toml"


_CAVEAT = ("The simulated hazard ratios are of the published size in 8 of 11 trials, but "
           "the model predicts a modest benefit where some trials saw none (docs/trials.md).")


@cache
def trial_caveat() -> str:
    """docs/trials.md's paragraph on what does not match in the current results, and why, as
    Markdown; a one-line summary when the file is not there (an installed wheel carries no
    docs)."""
    if not TRIALS_MD.exists():
        return _CAVEAT
    for para in TRIALS_MD.read_text(encoding="utf-8").split("\n\n"):
        if para.startswith("**What does not, and why.**"):
            text = " ".join(para.split())
            return text.replace("**What does not, and why.**", "").strip().rstrip(":") + "."
    return _CAVEAT


@cache
def _robustness() -> dict:
    if not MODEL_MD.exists():
        return {}
    out = {}
    for line in MODEL_MD.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(b\d\d_\w+)\s*\|.*\|\s*([\d.]+%)\s*\|\s*$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def robustness_share(les: Lesson) -> str:
    """The share of perturbed parameter draws in which the lesson's behaviour holds
    (docs/model.md's robustness table), e.g. ``"45.5%"``; "" when not known."""
    return _robustness().get(les.key, "")


@cache
def _parameter_sources() -> dict:
    with open(PARAMETERS_CSV, newline="", encoding="utf-8") as fh:
        return {row["id"]: row["source"] for row in csv.DictReader(fh)}


def sources(les: Lesson, model) -> list[str]:
    """Published sources of the lesson: its phenotypes', drugs' and parameters' entries
    (duplicates and "assumed" entries left out)."""
    out = []
    cat = model.catalog
    if les.trial:
        trial = Trial.from_toml(trial_path(les), catalog=cat)
        out.append(f"{trial.name}: {trial.source}")
    for p in les.phenotypes:
        if p in cat.phenotypes and cat.phenotypes[p].source:
            out.append(f"{p}: {cat.phenotypes[p].source}")
    for d in les.drugs:
        entry = cat.drugs.get(d, {})
        src = entry.get("potency_source") or ""
        if src and not src.startswith("issue"):
            out.append(f"{d} potency: {src}")
    table = _parameter_sources()
    for pid in les.params:
        src = table.get(pid, "")
        if src and not src.startswith("assumed"):
            out.append(f"{pid}: {src}")
    seen, unique = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique
