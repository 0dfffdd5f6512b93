"""The explorer's state: what a student set up, as plain data, and its URL query.

A :class:`LabState` is a cell (phenotypes and medium), up to four treatment arms of up to
three drugs (a concentration in nM, or a clinical regimen: mg every so many hours, turned
into exposure by the catalogue's PK; a start and an optional stop time), the readouts to
plot and the length of the run. It is written into the page's URL (:func:`to_query`) and read back from
one (:func:`from_query`) so a teacher can send a link to a precise experiment.

The query is parsed as data: split on fixed separators, ids looked up in the model's
catalogue, numbers read with ``float`` and checked finite; nothing in it is evaluated.
Every problem is reported as a :class:`Problem` naming the control it belongs to, so the
page shows it next to that control; the state returned holds only what was valid.

Query grammar (``to_query`` writes exactly this)::

    cell=HER2_amplified,PTEN_loss          phenotypes, in order ("" or absent: parental)
    medium=androstenedione:0,EGF:10        medium inputs (nM) that differ from the default
    hours=336                              length of the run (h)
    readouts=growth_rate,tumor_burden      ids of the plotted readouts
    arm1=tamoxifen:300,lapatinib:1000@24-168   drug:nM[@start-stop] (hours; stop optional)
    arm1=letrozole:2.5mg/q24h@0-336            drug:MGmg/qHOURSh[@start-stop]: a regimen
    arm2=...  (up to arm4)
    lesson=b02_her2_tamoxifen              the lesson shown beside the explorer
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, urlencode

from simulator.bundled.network import INPUT_LABELS, READOUT_LABELS
from simulator.errors import PerturbationError, suggest
from simulator.treatments import PK

__all__ = ["DrugDose", "Arm", "LabState", "Problem", "MAX_ARMS", "MAX_DRUGS", "DURATIONS",
           "DEFAULT_READOUTS", "UNITS", "parse_number", "parse_dose", "from_query", "to_query",
           "validate", "every_label"]

MAX_ARMS = 4
MAX_DRUGS = 3
MAX_HOURS = 24 * 365.0
MAX_DOSE_NM = 1e6           # 1 mM: far beyond any exposure; a typo guard, not biology
MAX_DOSE_MG = 1e4           # 10 g per administration: a typo guard
MIN_EVERY_H = 1.0           # doses at least an hour apart
MAX_ADMINISTRATIONS = 1000  # doses in one run (each is an event of the integrator)
UNITS = ("nM", "mg")
MAX_QUERY = 4000            # characters of a query we read at all
DURATIONS = {24.0: "1 day", 72.0: "3 days", 168.0: "1 week", 336.0: "2 weeks",
             672.0: "4 weeks", 2160.0: "3 months", 4320.0: "6 months"}
DEFAULT_READOUTS = ("tumor_burden", "growth_rate", "ER_activity")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class DrugDose:
    """One drug of an arm from ``start_h`` (hours after treatment start) until ``stop_h``
    (None: to the end): a constant concentration (``amount`` nM), or a clinical regimen,
    ``amount`` mg every ``every_h`` hours (``unit="mg"``), which the catalogue's PK turns
    into exposure (after ``stop_h`` no dose is given and the drug washes out)."""

    drug: str
    amount: float
    start_h: float = 0.0
    stop_h: float | None = None
    unit: str = "nM"
    every_h: float | None = None

    @property
    def label(self) -> str:
        text = f"{self.drug} {self.amount:g} {self.unit}"
        if self.unit == "mg" and self.every_h is not None:
            text += f" {every_label(self.every_h)}"
        if self.start_h or self.stop_h is not None:
            text += f" from {_hours(self.start_h)}"
            if self.stop_h is not None:
                text += f" to {_hours(self.stop_h)}"
        return text


def _hours(h: float) -> str:
    return f"day {h / 24:g}" if h and h % 24 == 0 else f"{h:g} h"


def every_label(h: float) -> str:
    """Words for a dosing interval: "daily", "twice daily", "every 7 days", "every 8 h"."""
    if h == 24:
        return "daily"
    if h == 12:
        return "twice daily"
    if h % 24 == 0:
        return f"every {h / 24:g} days"
    return f"every {h:g} h"


@dataclass(frozen=True)
class Arm:
    """Drugs given together (1 to :data:`MAX_DRUGS`)."""

    drugs: tuple = ()

    @property
    def label(self) -> str:
        return " + ".join(d.label for d in self.drugs) or "untreated"


@dataclass(frozen=True)
class LabState:
    """Everything the explorer shows; hashable, so runs can be cached by it."""

    cell: tuple = ()
    medium: tuple = ()            # ((input id, nM), ...) sorted by id
    arms: tuple = (Arm((DrugDose("tamoxifen", 300.0),)),)
    readouts: tuple = DEFAULT_READOUTS
    hours: float = 336.0
    lesson: str = ""

    def with_(self, **changes) -> LabState:
        return replace(self, **changes)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one control's value, and where: ``control`` is ``"cell"``,
    ``"medium"``, ``"hours"``, ``"readouts"``, ``"lesson"``, ``"url"`` or ``"armK"`` /
    ``"armK.drugJ"`` (1-based)."""

    control: str
    message: str

    def __str__(self):
        return self.message


@dataclass
class _Catalog:
    drugs: tuple
    phenotypes: tuple
    readouts: tuple = tuple(READOUT_LABELS)
    inputs: tuple = tuple(INPUT_LABELS)
    lessons: tuple = ()
    no_pk: dict = field(default_factory=dict)     # drug -> why it cannot be given in mg
    extra: dict = field(default_factory=dict)


def catalog_of(model, lessons=()) -> _Catalog:
    """The ids a state may use: the model catalogue's drugs and phenotypes, the labelled
    readouts and inputs, the lesson keys, and which drugs have no PK (no doses in mg)."""
    no_pk = {}
    for d in model.catalog.drugs:
        try:
            PK.for_drug(d, model.catalog)
        except PerturbationError as err:
            no_pk[d] = str(err)
    return _Catalog(tuple(model.catalog.drugs), tuple(model.catalog.phenotypes),
                    lessons=tuple(lessons), no_pk=no_pk)


# --------------------------------------------------------------------------- numbers

def parse_number(text, what: str, *, minimum: float = 0.0, maximum: float = math.inf,
                 strict_min: bool = False) -> tuple[float | None, str]:
    """``(value, "")`` or ``(None, message)``: a plain decimal number, finite, in range."""
    s = str(text).strip()
    if not s:
        return None, f"{what}: enter a number"
    if len(s) > 32 or not _NUMBER.match(s):
        return None, f"{what} must be a number, got '{_clip(s)}'"
    v = float(s)
    if not math.isfinite(v):
        return None, f"{what} must be a finite number, got '{_clip(s)}'"
    if v < minimum or (strict_min and v == minimum):
        return None, f"{what} must be {'>' if strict_min else '>='} {minimum:g}, got {v:g}"
    if v > maximum:
        return None, f"{what} must be at most {maximum:g}, got {v:g}"
    return v, ""


def parse_dose(text, drug: str, unit: str = "nM") -> tuple[float | None, str]:
    """A dose typed by a student: finite, non-negative, at most 1 mM (nM) or 10 g (mg)."""
    if unit not in UNITS:
        return None, f"unit of {drug} must be nM or mg, got '{_clip(str(unit))}'"
    return parse_number(text, f"dose of {drug} ({unit})",
                        maximum=MAX_DOSE_NM if unit == "nM" else MAX_DOSE_MG)


def _clip(s: str, n: int = 24) -> str:
    return s if len(s) <= n else s[:n] + "..."


# --------------------------------------------------------------------------- validation

def validate(state: LabState, cat: _Catalog) -> list[Problem]:
    """Every problem of ``state`` against the catalogue ``cat`` (empty: runnable)."""
    out = []
    for p in state.cell:
        if p not in cat.phenotypes:
            out.append(Problem("cell", f"unknown phenotype '{_clip(p)}'"
                                       f"{suggest(p, cat.phenotypes)}; known: "
                                       f"{', '.join(cat.phenotypes)}"))
    if len(set(state.cell)) != len(state.cell):
        out.append(Problem("cell", "a phenotype is listed twice"))
    for k, v in state.medium:
        if k not in cat.inputs:
            out.append(Problem("medium", f"unknown medium input '{_clip(k)}'"
                                         f"{suggest(k, cat.inputs)}; known: "
                                         f"{', '.join(cat.inputs)}"))
        elif not (isinstance(v, float) and math.isfinite(v) and 0 <= v <= MAX_DOSE_NM):
            out.append(Problem("medium", f"{k} must be a finite number of nM >= 0, got {v!r}"))
    if not (isinstance(state.hours, float) and math.isfinite(state.hours)
            and 0 < state.hours <= MAX_HOURS):
        out.append(Problem("hours", f"the run must last more than 0 and at most "
                                    f"{MAX_HOURS:g} hours, got {state.hours!r}"))
    if not state.readouts:
        out.append(Problem("readouts", "choose at least one readout to plot"))
    for r in state.readouts:
        if r not in cat.readouts:
            out.append(Problem("readouts", f"unknown readout '{_clip(r)}'"
                                           f"{suggest(r, cat.readouts)}"))
    if state.lesson and state.lesson not in cat.lessons:
        out.append(Problem("lesson", f"unknown lesson '{_clip(state.lesson)}'"
                                     f"{suggest(state.lesson, cat.lessons)}"))
    if not 1 <= len(state.arms) <= MAX_ARMS:
        out.append(Problem("arm1", f"give 1 to {MAX_ARMS} treatment arms, got {len(state.arms)}"))
    for i, arm in enumerate(state.arms, 1):
        out += _arm_problems(arm, i, state.hours, cat)
    return out


def _arm_problems(arm: Arm, i: int, hours: float, cat: _Catalog) -> list[Problem]:
    out = []
    if not arm.drugs:
        out.append(Problem(f"arm{i}", f"arm {i} has no drug (the untreated control is always "
                                      f"shown)"))
    if len(arm.drugs) > MAX_DRUGS:
        out.append(Problem(f"arm{i}", f"arm {i}: at most {MAX_DRUGS} drugs"))
    seen = set()
    for j, d in enumerate(arm.drugs, 1):
        where = f"arm{i}.drug{j}"
        if d.drug not in cat.drugs:
            out.append(Problem(where, f"unknown drug '{_clip(d.drug)}'"
                                      f"{suggest(d.drug, cat.drugs)}"))
            continue
        if d.drug in seen:
            out.append(Problem(where, f"arm {i} gives {d.drug} twice"))
        seen.add(d.drug)
        if d.unit not in UNITS:
            out.append(Problem(where, f"unit of {d.drug} must be nM or mg, got {d.unit!r}"))
            continue
        top = MAX_DOSE_NM if d.unit == "nM" else MAX_DOSE_MG
        if not (isinstance(d.amount, float) and math.isfinite(d.amount)
                and 0 <= d.amount <= top):
            out.append(Problem(where, f"dose of {d.drug} must be a finite number of {d.unit} "
                                      f">= 0 and at most {top:g}, got {d.amount!r}"))
        if d.unit == "mg":
            out += _regimen_problems(d, where, hours, cat)
        elif d.every_h is not None:
            out.append(Problem(where, f"{d.drug}: a concentration in nM is constant; only a "
                                      f"dose in mg has an interval"))
        if not (isinstance(d.start_h, float) and math.isfinite(d.start_h) and d.start_h >= 0):
            out.append(Problem(where, f"{d.drug}: start must be >= 0 hours, got {d.start_h!r}"))
        elif d.start_h >= hours:
            out.append(Problem(where, f"{d.drug} starts at {d.start_h:g} h, after the end of "
                                      f"the run ({hours:g} h)"))
        if d.stop_h is not None:
            if not (isinstance(d.stop_h, float) and math.isfinite(d.stop_h)):
                out.append(Problem(where, f"{d.drug}: stop must be a number of hours"))
            elif d.stop_h <= d.start_h:
                out.append(Problem(where, f"{d.drug} stops ({d.stop_h:g} h) before it starts "
                                          f"({d.start_h:g} h)"))
    return out


def _regimen_problems(d: DrugDose, where: str, hours: float, cat: _Catalog) -> list[Problem]:
    """What is wrong with a regimen in mg: a drug without PK, a nonsense interval."""
    out = []
    if d.drug in cat.no_pk:
        out.append(Problem(where, f"{d.drug} has no complete pharmacokinetics in the drug "
                                  f"catalogue (bioavailability, volume, half-life), so it "
                                  f"cannot be given in mg; give a concentration in nM"))
    e = d.every_h
    if not (isinstance(e, float) and math.isfinite(e)):
        out.append(Problem(where, f"{d.drug}: a dose in mg needs an interval, a number of "
                                  f"hours between doses (24: daily), got {e!r}"))
    elif e < MIN_EVERY_H:
        out.append(Problem(where, f"{d.drug}: doses must be at least {MIN_EVERY_H:g} hour "
                                  f"apart, got every {e:g} h"))
    elif e > MAX_HOURS:
        out.append(Problem(where, f"{d.drug}: the interval must be at most {MAX_HOURS:g} h, "
                                  f"got {e:g} h"))
    elif isinstance(hours, float) and math.isfinite(hours) and isinstance(d.start_h, float):
        end = hours if d.stop_h is None else min(hours, d.stop_h)
        n = math.floor(max(end - d.start_h, 0.0) / e) + 1
        if n > MAX_ADMINISTRATIONS:
            out.append(Problem(where, f"{d.drug}: {n} doses in this run (every {e:g} h); at "
                                      f"most {MAX_ADMINISTRATIONS}: give them less often or "
                                      f"as a concentration in nM"))
    return out


# --------------------------------------------------------------------------- the query

def to_query(state: LabState) -> str:
    """The URL query (without ``?``) of ``state``; :func:`from_query` reads it back."""
    q = {}
    if state.cell:
        q["cell"] = ",".join(state.cell)
    if state.medium:
        q["medium"] = ",".join(f"{k}:{v:g}" for k, v in state.medium)
    q["hours"] = f"{state.hours:g}"
    q["readouts"] = ",".join(state.readouts)
    for i, arm in enumerate(state.arms, 1):
        q[f"arm{i}"] = ",".join(_drug_text(d) for d in arm.drugs)
    if state.lesson:
        q["lesson"] = state.lesson
    return urlencode(q, safe=",:@/")


def _drug_text(d: DrugDose) -> str:
    text = f"{d.drug}:{d.amount:.12g}"
    if d.unit == "mg":
        text += "mg/q" + ("" if d.every_h is None else f"{d.every_h:.12g}") + "h"
    if d.start_h or d.stop_h is not None:
        text += f"@{d.start_h:.12g}-" + ("" if d.stop_h is None else f"{d.stop_h:.12g}")
    return text


_KEYS = {"cell", "medium", "hours", "readouts", "lesson"} | {f"arm{i}" for i in
                                                           range(1, MAX_ARMS + 1)}


def from_query(query, cat: _Catalog, *, default: LabState | None = None
               ) -> tuple[LabState, list[Problem]]:
    """Read a URL query (text, or a mapping of key -> value or list of values) into a state.

    Returns ``(state, problems)``. Parts with problems are left at ``default`` (the
    default :class:`LabState`), so the page still shows a runnable experiment, and each
    problem says which control and value it concerns.
    """
    default = default or LabState()
    problems: list[Problem] = []
    if isinstance(query, (str, bytes)):
        text = query.decode("utf-8", "replace") if isinstance(query, bytes) else query
        text = text.lstrip("?")
        if len(text) > MAX_QUERY:
            return default, [Problem("url", f"the link is too long ({len(text)} characters, "
                                            f"at most {MAX_QUERY}); showing the default")]
        raw = parse_qs(text, keep_blank_values=True)
    elif isinstance(query, Mapping):
        raw = {k: (v if isinstance(v, list) else [v]) for k, v in query.items()}
    else:
        return default, [Problem("url", "the link's query is not text")]
    values = {}
    for k, vs in raw.items():
        k = k.decode() if isinstance(k, bytes) else str(k)
        vs = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in vs]
        if k not in _KEYS:
            problems.append(Problem("url", f"unknown setting '{_clip(k)}' in the link, "
                                           f"ignored{suggest(k, _KEYS)}"))
            continue
        if len(vs) > 1:
            problems.append(Problem("url", f"'{k}' is given {len(vs)} times in the link; the "
                                           f"first is used"))
        values[k] = vs[0]
    if not values:
        return default, problems
    state = default
    if "cell" in values:
        cell = tuple(p for p in values["cell"].split(",") if p)
        state = _take(state, problems, "cell", cell=cell, cat=cat)
    if "medium" in values:
        medium, bad = _pairs(values["medium"], "medium", "medium input")
        problems += bad
        if not bad:
            state = _take(state, problems, "medium", medium=tuple(sorted(medium)), cat=cat)
    if "hours" in values:
        h, msg = parse_number(values["hours"], "length of the run (hours)", minimum=0.0,
                              maximum=MAX_HOURS, strict_min=True)
        if msg:
            problems.append(Problem("hours", msg))
        else:
            state = replace(state, hours=h)
    if "readouts" in values:
        rs = tuple(r for r in values["readouts"].split(",") if r)
        state = _take(state, problems, "readouts", readouts=rs, cat=cat)
    if "lesson" in values:
        state = _take(state, problems, "lesson", lesson=values["lesson"], cat=cat)
    arm_keys = [f"arm{i}" for i in range(1, MAX_ARMS + 1) if f"arm{i}" in values]
    if arm_keys:
        arms = []
        for key in arm_keys:
            arm, bad = _arm(values[key], key)
            problems += bad
            if not bad:
                arm_problems = _arm_problems(arm, len(arms) + 1, state.hours, cat)
                problems += [Problem(key, p.message) for p in arm_problems]
                if not arm_problems:
                    arms.append(arm)
        if arms:
            state = replace(state, arms=tuple(arms))
    return state, problems


def _take(state, problems, control, cat, **change):
    new = replace(state, **change)
    bad = [p for p in validate(new, cat) if p.control == control]
    problems += bad
    return state if bad else new


def _pairs(text: str, control: str, what: str):
    out, bad = [], []
    for item in (x for x in text.split(",") if x):
        name, sep, value = item.partition(":")
        if not sep or not _ID.match(name):
            bad.append(Problem(control, f"{what} must be written name:value, got "
                                        f"'{_clip(item)}'"))
            continue
        v, msg = parse_number(value, f"{name} (nM)", maximum=MAX_DOSE_NM)
        if msg:
            bad.append(Problem(control, msg))
        else:
            out.append((name, v))
    return out, bad


def _arm(text: str, key: str) -> tuple[Arm, list[Problem]]:
    drugs, bad = [], []
    items = [x for x in text.split(",") if x]
    if len(items) > MAX_DRUGS:
        return Arm(), [Problem(key, f"{key}: at most {MAX_DRUGS} drugs, got {len(items)}")]
    for j, item in enumerate(items, 1):
        where = f"{key}.drug{j}"
        spec, _, timing = item.partition("@")
        name, sep, dose = spec.partition(":")
        if not sep or not _ID.match(name):
            bad.append(Problem(where, f"a drug must be written drug:nM or "
                                      f"drug:MGmg/qHOURSh, got '{_clip(item)}'"))
            continue
        unit, every = "nM", None
        if "mg" in dose:
            dose, _, regimen = dose.partition("mg")
            unit = "mg"
            if not (regimen.startswith("/q") and regimen.endswith("h")):
                bad.append(Problem(where, f"a regimen of {name} must be written MGmg/qHOURSh "
                                          f"(2.5mg/q24h: 2.5 mg daily), got "
                                          f"'{_clip(item)}'"))
                continue
            every, msg = parse_number(regimen[2:-1], f"dosing interval of {name} (hours)")
            if msg:
                bad.append(Problem(where, msg))
                continue
        amount, msg = parse_dose(dose, name, unit)
        if msg:
            bad.append(Problem(where, msg))
            continue
        start, stop = 0.0, None
        if timing:
            a, sep, b = timing.partition("-")
            start, msg = parse_number(a, f"start of {name} (hours)")
            if sep and b and not msg:
                stop, msg = parse_number(b, f"stop of {name} (hours)")
            if msg or not sep:
                bad.append(Problem(where, msg or f"timing of {name} must be start-stop hours "
                                                 f"(stop may be empty), got '{_clip(timing)}'"))
                continue
        drugs.append(DrugDose(name, amount, start, stop, unit, every))
    return Arm(tuple(drugs)), bad
