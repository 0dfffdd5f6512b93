"""The resistance atlas: every published behaviour of the bundled model, explained, drawn and checked.

``crosstalk atlas --out out/atlas`` (the main job, ``make demo``) runs

* the 15 behaviour checks of :mod:`simulator.bundled.behaviors` on Crosstalk's own core
  (:class:`simulator.bundled.runner.CoreRunner`): the same checks the tests run on
  libroadrunner;
* the studies in ``experiments/`` (each script's ``main(out_dir, quick)``; installed, the
  package ``simulator.experiments``);

and writes ``index.html`` with, for each resistance mechanism, a short explanation, its
figure (PNG next to the page) and whether the model reproduces it.
"""
from __future__ import annotations

import html
import importlib
import shutil
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from simulator.bundled.behaviors import BEHAVIORS, KNOWN_FAILURES
from simulator.bundled.runner import CoreRunner
from simulator.plot import pyplot
from simulator.errors import InvalidValueError, suggest
from simulator.version import __version__

EXPERIMENTS = "simulator.experiments"


@dataclass(frozen=True)
class Section:
    """One resistance mechanism of the atlas: a behaviour check and the figures that show it."""

    key: str            # behaviour id in simulator.bundled.behaviors.BEHAVIORS, or "" (no check)
    title: str
    explanation: str
    experiments: tuple = ()     # experiment script names whose figures illustrate it
    plot: str = ""              # name of a plot function here, drawn from the check's data


SECTIONS = (
    Section("b01_e2_and_er", "Estrogen drives ER; fulvestrant degrades it",
            "E2 made from androstenedione by aromatase binds ER and drives its transcriptional "
            "activity, cyclin D1 and proliferation. Tamoxifen (through endoxifen) competes with "
            "E2 but leaves ER in place; fulvestrant competes and makes ER degrade fast, so its "
            "maximal growth inhibition is at least tamoxifen's.", plot="plot_b01"),
    Section("b02_her2_tamoxifen", "HER2 amplification: tamoxifen resistance",
            "With HER2 amplified, HER2 homodimers and HER2-HER3 drive ERK and Akt, which "
            "phosphorylate ER and recruit coactivators; tamoxifen-bound phosphorylated ER then "
            "acts as a partial agonist. Blocking HER2 (lapatinib, trastuzumab) gives tamoxifen "
            "its effect back.", experiments=("her2_tamoxifen_resistance",)),
    Section("b03_everolimus_feedback", "Everolimus relieves the S6K1 -| IRS-1 feedback",
            "S6K1 phosphorylates IRS-1 on serines and damps IGF-1R -> PI3K. Everolimus inhibits "
            "mTORC1, pS6 falls, the brake is released and pAkt S473 rises within hours. A PI3K "
            "inhibitor, or taking IGF-1 away, abolishes the rise.",
            experiments=("everolimus_akt_feedback",)),
    Section("b04_pi3ki_vs_everolimus", "PI3K inhibitors lower both Akt sites; rapalogs do not",
            "Alpelisib and buparlisib cut PIP3, so PDK1 (T308) and mTORC2 (S473) both lose "
            "their substrate at the membrane. Everolimus acts on mTORC1 only and leaves mTORC2, "
            "so S473 does not fall (right panel of the everolimus figure).",
            experiments=("everolimus_akt_feedback",)),
    Section("b05_estrogen_deprivation", "Estrogen deprivation: RTK escape over months",
            "E2-ER represses EGFR and HER2. Under an aromatase inhibitor that repression is lost "
            "slowly (a weeks-long adaptation), EGFR, HER2, IGF-1R and pERK rise, and growth, "
            "first arrested, recovers: the route to long-term estrogen-deprived (LTED) cells.",
            experiments=("estrogen_deprivation_rtk_escape",)),
    Section("b06_esr1_mutant", "ESR1 mutation: ER active without estrogen",
            "Y537S-like ER is active without E2, so aromatase inhibitors, which only remove E2, "
            "lose their effect. Antagonists bind the mutant less well: fulvestrant's IC50 moves "
            "right, but a high dose still suppresses growth as fully.",
            experiments=("esr1_mutation",)),
    Section("b07_akt_myr", "Constitutive Akt: ER phosphorylation and tamoxifen resistance",
            "Membrane-targeted Akt phosphorylates ER (S167) directly and through S6K1 (S305), "
            "raising ligand-independent activity; tamoxifen works less. Everolimus removes the "
            "S6K1 share and restores tamoxifen; everolimus and letrozole act synergistically "
            "(Bliss excess > 0).", plot="plot_b07"),
    Section("b08_pten_loss", "PTEN loss: PIP3 accumulates",
            "Without PTEN, PIP3 and Akt rise without receptor input, so blocking HER2 "
            "(trastuzumab) or ER (tamoxifen) leaves a PI3K-driven remainder of growth.",
            plot="plot_b08"),
    Section("b09_pik3ca_mutant", "PIK3CA mutation: PI3K on without ligand",
            "Mutant p110alpha is active without RTK/IRS-1 recruitment, so Akt stays on in "
            "serum-free medium, and the cell becomes more dependent on p110alpha: alpelisib's "
            "growth IC50 falls.", plot="plot_b09"),
    Section("b10_her2_repression", "E2-ER represses HER2",
            "At steady state, HER2 protein is lower with E2 than without it: the basis of the "
            "RTK rise under estrogen deprivation.", plot="plot_b10"),
    Section("b11_ligand_independent_er", "Growth factors activate ER without estrogen",
            "In estrogen-free medium, EGF (through EGFR -> ERK) and IGF-1 (through IGF-1R -> "
            "PI3K -> Akt/S6K1) phosphorylate ER and raise its activity; lapatinib or a PI3K "
            "inhibitor blocks that.", plot="plot_b11"),
    Section("b12_nongenomic_e2", "Non-genomic estrogen signalling",
            "Membrane ER bound to E2 activates PI3K within minutes, so pAkt rises 5-15 minutes "
            "after E2 is added; fulvestrant, which removes ER, blocks it.", plot="plot_b12"),
    Section("b13_trial_analogues", "Clinical trials at the cell level: EGF30008, TAnDEM, BOLERO-2",
            "Adding an anti-HER2 drug to an aromatase inhibitor helps HER2-amplified cells much "
            "more than parental ones (EGF30008: letrozole + lapatinib; TAnDEM: anastrozole + "
            "trastuzumab). In cells adapted to estrogen deprivation (LTED), everolimus adds to "
            "exemestane (BOLERO-2).",
            experiments=("egf30008_letrozole_lapatinib", "tandem_anastrozole_trastuzumab",
                         "bolero2_exemestane_everolimus")),
    Section("", "Virtual trials: simulated vs published hazard ratios",
            "Not a checked behaviour: the cell model carried to the clinic. Each bundled trial "
            "(TAnDEM, EGF30008, BOLERO-2, TAMRAD, HORIZON, S0226, FACT, SoFEA, SOLAR-1, "
            "BELLE-2) runs with virtual patients, label PK and RECIST scans; the control arm's "
            "median PFS is fitted, the experimental arm predicted. The atlas runs a small "
            "cohort (120 per arm, one draw); docs/trials.md discusses where the model "
            "overshoots (rapalogs) and why BELLE-2 is not run.",
            experiments=("virtual_trials",)),
    Section("b14_cyp2d6_poor", "CYP2D6 poor metabolisers: less endoxifen",
            "Tamoxifen is a prodrug: CYP2D6 makes endoxifen. Poor metabolisers make about a "
            "quarter of it, so less ER is occupied and growth is suppressed less at the same "
            "dose.", plot="plot_b14"),
    Section("b15_lted_fulvestrant_pi3k", "LTED cells: fulvestrant + a PI3K inhibitor",
            "Cells adapted to estrogen deprivation still need ER but also run on PI3K; "
            "fulvestrant and a PI3K inhibitor each leave the other route open, together they "
            "beat either alone.", experiments=("pi3k_fulvestrant",)),
    Section("", "Further study: TAMRAD (tamoxifen + everolimus)",
            "Not one of the model's checked behaviours: a consequence of the same mechanisms. In "
            "aromatase-inhibitor-resistant (LTED) cells everolimus removes S6K1's activation of "
            "ER and restores tamoxifen.", experiments=("tamrad_tamoxifen_everolimus",)),
    Section("", "Further study: an aromatase inhibitor + a CDK4/6 inhibitor",
            "Not one of the model's checked behaviours (tests/test_model_v2.py checks it). ER "
            "and ERK transcribe cyclin D1 and mTORC1 translates it; cyclin D1-CDK4/6 "
            "phosphorylates Rb to release E2F. Letrozole lowers cyclin D1, palbociclib or "
            "abemaciclib blocks the rest (PALOMA-2, MONALEESA-2 analogues). Without Rb "
            "(RB1_loss) or with amplified cyclin E1 (CCNE1_high), whose CDK2 phosphorylates "
            "Rb instead, cells escape the combination.", experiments=("cdk46_endocrine",)),
    Section("", "Further study: all drug pairs",
            "Every pair of the catalogue's drugs with a clinical exposure (18 of 20; "
            "dactolisib and AZD8055 have no label PK) on a small grid of clinical doses in LTED and "
            "HER2-amplified cells, scored for synergy (Bliss, Loewe, HSA, ZIP); the heatmap "
            "shows the Bliss score of each pair.", experiments=("combination_screen",)),
)


def sections_named(names) -> list:
    """The sections with these behaviour ids or experiment names, in atlas order.

    Raises
    ------
    InvalidValueError
        A name that is neither (with a "did you mean" and the valid names).
    """
    known = {s.key for s in SECTIONS if s.key} | {e for s in SECTIONS for e in s.experiments}
    for n in names:
        if n not in known:
            raise InvalidValueError(f"unknown atlas section '{n}'{suggest(n, known)}; valid "
                                    f"sections: {', '.join(sorted(known))}")
    return [s for s in SECTIONS if s.key in names or set(s.experiments) & set(names)]


@dataclass
class SectionResult:
    """What the atlas found for one section."""

    section: Section
    status: str                 # "pass", "fail", "error" or "study"
    detail: str = ""
    figures: list = field(default_factory=list)   # PNG file names next to index.html
    tables: list = field(default_factory=list)    # CSV paths relative to index.html
    seconds: float = 0.0


@dataclass
class AtlasResult:
    """The atlas run: ``sections``, the page ``index`` and the wall time ``seconds``."""

    sections: list
    index: Path
    seconds: float

    @property
    def failed(self) -> list:
        """Sections that failed unexpectedly (a known limit of the model is not one)."""
        return [s for s in self.sections if s.status in ("fail", "error")]


# --------------------------------------------------------------------------- running

def load_experiment(name: str):
    """The study ``experiments/<name>.py`` as a module (it defines ``main(out_dir, quick)``)."""
    return importlib.import_module(f"{EXPERIMENTS}.{name}")


def run_atlas(out="out/atlas", *, quick: bool = False, progress: bool = False,
              images_to=None, sections=None) -> AtlasResult:
    """Run the checks and experiments and write ``<out>/index.html``.

    Parameters
    ----------
    out : str or Path
        Output folder (figures, CSVs and the page).
    quick : bool
        Reduced grids for CI (the checks themselves are never reduced).
    progress : bool
        Show a tqdm bar.
    images_to : str or Path, optional
        Also copy every figure there as ``atlas_<name>.png`` (e.g. ``docs/images``).
    sections : sequence of Section, optional
        Run only these (default: :data:`SECTIONS`, the whole atlas).

    Returns
    -------
    AtlasResult
    """
    pyplot(headless=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    runner = CoreRunner()
    sections = SECTIONS if sections is None else tuple(sections)
    experiments = {}   # name -> (figure name, csv path, error)
    steps = len(sections) + len({e for s in sections for e in s.experiments})
    bar = _bar(steps, progress)
    results = []
    for sec in sections:
        t0 = time.perf_counter()
        res = SectionResult(sec, "study")
        errors = []
        for name in sec.experiments:
            if name not in experiments:
                bar.set_description(name)
                experiments[name] = _run_experiment(name, out, quick)
                bar.update()
            fig, csv, err = experiments[name]
            if err:
                errors.append(f"experiment {name} failed: {err}")
            else:
                res.figures.append(fig)
                res.tables.append(csv)
        if sec.key:
            bar.set_description(sec.key)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    check = BEHAVIORS[sec.key](runner)
                res.status = ("pass" if check.passed else
                              "known" if sec.key in KNOWN_FAILURES else "fail")
                res.detail = check.detail
                if res.status == "known":
                    res.detail += f"; [known limit] {KNOWN_FAILURES[sec.key]}"
                if sec.plot:
                    res.figures.append(_draw(sec, check, out))
                    csv = out / "checks" / f"{sec.key}.csv"
                    csv.parent.mkdir(exist_ok=True)
                    check.data.to_csv(csv, index=False)
                    res.tables.append(csv.relative_to(out).as_posix())
            except Exception as err:  # a crashing check is reported, never hidden
                res.status = "error"
                res.detail = f"{type(err).__name__}: {err}"
        if errors:
            res.status = "error"
            res.detail = "; ".join(filter(None, [res.detail, *errors]))
        res.seconds = time.perf_counter() - t0
        results.append(res)
        bar.update()
    bar.close()
    seconds = time.perf_counter() - start
    index = _write_html(out, results, seconds, runner.model, quick)
    if images_to is not None:
        dest = Path(images_to)
        dest.mkdir(parents=True, exist_ok=True)
        for fig in sorted({f for r in results for f in r.figures}):
            shutil.copyfile(out / fig, dest / f"atlas_{fig}")
    return AtlasResult(results, index, seconds)


def _bar(total, enabled):
    if enabled:
        return tqdm(total=total, desc="atlas", leave=False)

    class _Quiet:
        def update(self, n=1):
            pass

        def set_description(self, text):
            pass

        def close(self):
            pass
    return _Quiet()


def _run_experiment(name, out, quick):
    """Run one experiment; returns (figure file name, csv relative path, error text or None)."""
    try:
        module = load_experiment(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = module.main(out / "experiments", quick=quick)
        fig = f"{name}.png"
        shutil.copyfile(res["figure"], out / fig)
        return fig, Path(res["csv"]).relative_to(out).as_posix(), None
    except Exception as err:  # reported on the page and in the exit code
        last = traceback.extract_tb(err.__traceback__)[-1]
        return None, None, f"{type(err).__name__}: {err} ({Path(last.filename).name}:{last.lineno})"


# --------------------------------------------------------------------------- figures from checks

def _draw(sec: Section, check, out: Path) -> str:
    plt = pyplot(headless=True)
    fig = globals()[sec.plot](check.data)
    fig.suptitle(sec.title)
    fig.tight_layout()
    name = f"{sec.key}.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def _values(data) -> dict:
    return dict(zip(data["condition"], data["value"]))


def _panels(n, width=4.0):
    fig, axes = pyplot(headless=True).subplots(1, n, figsize=(width * n, 3.8), squeeze=False)
    return fig, list(axes[0])


def _bars(ax, labels, values, ylabel, title="", colors=None, percent=False):
    vals = np.asarray(values, float) * (100 if percent else 1)
    bars = ax.bar(range(len(vals)), vals, color=colors or [f"C{i}" for i in range(len(vals))])
    ax.bar_label(bars, fmt="%.0f%%" if percent else "%.3g", fontsize=8)
    ax.set_xticks(range(len(vals)), labels, fontsize=8)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(ylabel=ylabel, title=title)
    ax.margins(y=0.15)


def plot_b01(data):
    v = _values(data)
    fig, ax = _panels(4, 3.3)
    _bars(ax[0], ["E2", "no E2"], [v["ER_activity_E2"], v["ER_activity_noE2"]], "ER_activity",
          "ER activity (72 h)")
    _bars(ax[1], ["E2", "no E2"], [v["growth_E2"], v["growth_noE2"]], "growth rate (per day)",
          "Growth")
    _bars(ax[2], ["control", "fulvestrant", "tamoxifen"],
          [v["ER_total_ctrl"], v["ER_total_fulv"], v["ER_total_tam"]], "ER_total", "ER protein")
    _bars(ax[3], ["fulvestrant\n1 uM", "tamoxifen\n10 uM"], [v["inh_fulv_max"], v["inh_tam_max"]],
          "growth inhibition", "Maximal inhibition", percent=True)
    return fig


def plot_b07(data):
    v = _values(data)
    fig, ax = _panels(3, 3.8)
    _bars(ax[0], ["parental", "AKT_myr"], [v["pER_parental"], v["pER_myr"]], "pER", "ER phosphorylation")
    _bars(ax[1], ["parental", "AKT_myr", "AKT_myr on\neverolimus"],
          [v["inh_tam_parental"], v["inh_tam_myr"], v["inh_tam_on_everolimus_myr"]],
          "growth inhibition by tamoxifen", "Tamoxifen effect", percent=True)
    _bars(ax[2], ["everolimus +\nletrozole"], [v["bliss_eve_let_myr"]], "Bliss excess",
          "Synergy in AKT_myr")
    return fig


def plot_b08(data):
    v = _values(data)
    fig, ax = _panels(3, 3.8)
    _bars(ax[0], ["T308", "S473"], [v["pAkt_T308_ratio"], v["pAkt_S473_ratio"]],
          "PTEN_loss / parental", "Basal pAkt")
    ax[0].axhline(1, color="grey", ls=":")
    _bars(ax[1], ["HER2_amp", "HER2_amp +\nPTEN_loss"], [v["inh_tz_her2amp"], v["inh_tz_her2amp_pten"]],
          "growth inhibition", "Trastuzumab", percent=True)
    _bars(ax[2], ["parental", "PTEN_loss"], [v["inh_tam"], v["inh_tam_pten"]],
          "growth inhibition", "Tamoxifen", percent=True)
    return fig


def plot_b09(data):
    fig, ax = _panels(1, 6.0)
    for cond, sub in data.groupby("condition", sort=False):
        ax[0].semilogx(sub["dose"], 100 * sub["inhibition"], "o-", label=cond)
    ax[0].axhline(50, color="grey", ls=":", lw=0.8)
    ax[0].set(xlabel="alpelisib (nM)", ylabel="growth inhibition at 72 h (%)",
              title="Alpelisib dose-response")
    ax[0].legend()
    return fig


def plot_b10(data):
    v = _values(data)
    fig, ax = _panels(1, 4.0)
    _bars(ax[0], ["E2", "no E2"], [v["HER2_total_E2"], v["HER2_total_noE2"]], "HER2_total",
          "HER2 at steady state")
    return fig


def plot_b11(data):
    v = _values(data)
    fig, ax = _panels(1, 6.5)
    keys = ["starved", "EGF", "EGF_lapatinib", "IGF1", "IGF1_alpelisib"]
    _bars(ax[0], ["starved", "EGF", "EGF +\nlapatinib", "IGF-1", "IGF-1 +\nalpelisib"],
          [v[k] for k in keys], "ER_activity after 24 h", "Estrogen-free medium",
          colors=["grey", "C0", "C0", "C1", "C1"])
    return fig


def plot_b12(data):
    fig, ax = _panels(1, 6.0)
    for cond, sub in data.groupby("condition", sort=False):
        ax[0].plot(sub["time_min"], sub["pAkt_S473"], "o-", label=cond)
    ax[0].set(xlabel="minutes after E2 (1 nM)", ylabel="pAkt_S473", title="Within minutes")
    ax[0].legend()
    return fig


def plot_b14(data):
    v = _values(data)
    fig, ax = _panels(3, 3.5)
    labels = ["extensive", "poor"]
    _bars(ax[0], labels, [v["endoxifen_EM"], v["endoxifen_PM"]], "endoxifen (nM)", "Endoxifen")
    _bars(ax[1], labels, [v["occupancy_EM"], v["occupancy_PM"]], "fraction of ER",
          "ER occupied by endoxifen")
    _bars(ax[2], labels, [v["inhibition_EM"], v["inhibition_PM"]], "growth inhibition",
          "Tamoxifen 300 nM", percent=True)
    return fig


# --------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .meta{color:#666;font-size:.9em}
table.summary{border-collapse:collapse;margin:1em 0} .summary td,.summary th{padding:.25em .8em;
border-bottom:1px solid #ddd;text-align:left}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-weight:600;font-size:.85em}
.pass{background:#d4f4d4;color:#16621a} .fail{background:#fbd5d5;color:#9b1c1c}
.error{background:#fde68a;color:#7c4a03} .study{background:#e0e7ff;color:#3730a3}
.known{background:#fde2c8;color:#8a4b08}
section{border-top:1px solid #ccc;margin-top:2em;padding-top:.5em} img{max-width:100%}
ul.detail{font-size:.9em;color:#333} li.bad{color:#9b1c1c}
"""


def _clause_class(status, clause) -> str:
    return "bad" if status == "error" or clause.startswith(("[FAIL", "[known")) else ""


def _write_html(out: Path, results, seconds, model, quick) -> Path:
    esc = html.escape
    n_checks = sum(1 for r in results if r.section.key)
    n_pass = sum(1 for r in results if r.status == "pass")
    known = [r.section.key for r in results if r.status == "known"]
    limits = (f" Known limits of the model, reported rather than hidden: "
              f"{', '.join(known)} (docs/model.md, Robustness)." if known else "")
    rows, body = [], []
    for i, r in enumerate(results, 1):
        sec = r.section
        anchor = sec.key or f"study{i}"
        label = {"pass": "reproduced", "fail": "not reproduced", "error": "error",
                 "known": "not reproduced (known limit)", "study": "study"}[r.status]
        rows.append(f'<tr><td><a href="#{anchor}">{esc(sec.title)}</a></td>'
                    f'<td><span class="badge {r.status}">{label}</span></td></tr>')
        parts = [f'<section id="{anchor}"><h2>{esc(sec.title)} '
                 f'<span class="badge {r.status}">{label}</span></h2>',
                 f"<p>{esc(sec.explanation)}</p>"]
        parts += [f'<p><img src="{esc(f)}" alt="{esc(sec.title)}"></p>' for f in r.figures]
        if r.detail:
            if r.status == "error":
                clauses = r.detail.split("; ")
            else:
                clauses = [c if c.startswith("[") else "[" + c for c in r.detail.split("; [")]
            items = "".join(
                f'<li class="{_clause_class(r.status, c)}">{esc(c)}</li>' for c in clauses)
            what = "What the check measured" if sec.key else "Notes"
            parts.append(f"<p><b>{what}</b> ({esc(sec.key)}):</p><ul class='detail'>{items}</ul>")
        if r.tables:
            links = ", ".join(f'<a href="{esc(t)}">{esc(Path(t).name if "checks" in t else t)}</a>'
                              for t in r.tables)
            parts.append(f"<p class='meta'>Data: {links}</p>")
        parts.append("</section>")
        body.append("\n".join(parts))
    grid = "reduced (--quick)" if quick else "full"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Crosstalk resistance atlas</title>
<style>{_CSS}</style></head><body>
<h1>Crosstalk resistance atlas</h1>
<p class="meta">Model <code>{esc(model.id)}</code> (hash {esc(model.hash[:12])}), crosstalk
{esc(__version__)}, {grid} grids, {seconds:.0f} s. Checks run on Crosstalk's own core with the
same functions the tests run on libroadrunner (<code>simulator/bundled/behaviors.py</code>).</p>
<p><b>{n_pass} of {n_checks}</b> published behaviours reproduced.{esc(limits)}</p>
<table class="summary"><tr><th>mechanism</th><th>status</th></tr>
{''.join(rows)}</table>
{''.join(body)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
