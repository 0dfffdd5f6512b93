"""What a virtual trial is: a TOML file read into :class:`Trial` (population, arms, published).

The schema (``simulator/models/trials/*.toml``; docs/trials.md)::

    name = "BOLERO-2"
    source = "Baselga, NEJM 2012; final PFS Piccart, Ann Oncol 2014"
    months = 24                  # follow-up (data cutoff)
    scan_every_weeks = 6
    [population]
    prior = "nonsteroidal_AI"    # none | tamoxifen | nonsteroidal_AI | steroidal_AI | fulvestrant,
                                 # or a table of fractions { none = 0.6, tamoxifen = 0.4 }
    phenotypes = { PIK3CA_mutant = 0.45, ESR1_mutant = 0.3 }   # prevalence of each (independent)
    [arms.control]
    label = "exemestane"
    regimen = [{ drug = "exemestane", mg = 25, every_days = 1 }]
    [arms.experimental]
    ...
    [published]
    median_pfs_months = { control = 3.2, experimental = 7.8 }
    hazard_ratio = [0.45, 0.38, 0.54]
    n = 724

A regimen entry gives a dose (``mg``, or ``mg_per_kg`` times the population's
``weight_kg``) on one schedule: ``every_days`` (from day 1), ``days = [1, 15, 29]`` with
``then_every_days``, or ``on_days`` out of every ``cycle_days`` (a dose every
``every_days`` inside the window, default daily); ``loading_mg`` / ``loading_mg_per_kg``
gives a first dose that is a whole multiple of the maintenance dose. Day 1 is hour 0.
``route = "oral"`` gives a drug by another route than its catalogue PK's (the catalogue's
``pk.F_oral``, e.g. oral temsirolimus); ``free_fraction`` replaces its unbound fraction.

Every error is a :class:`~simulator.errors.TrialError` naming the file, the key and its line.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from simulator.api import load_model
from simulator.catalog import Catalog
from simulator.errors import TrialError, suggest
from simulator.treatments.schedule import Dose, Schedule, Treatment

__all__ = ["Trial", "Arm", "Population", "Published", "PRIORS", "regimen_treatment"]

# prior therapy -> the regimen simulated before randomisation (drug, mg, every_days)
PRIORS = {
    "none": (),
    "tamoxifen": (("tamoxifen", 20.0, 1),),
    "nonsteroidal_AI": (("letrozole", 2.5, 1),),
    "steroidal_AI": (("exemestane", 25.0, 1),),
    "fulvestrant": (("fulvestrant", 500.0, 28),),
}

TOP_KEYS = {"name", "source", "months", "scan_every_weeks", "population", "arms", "published",
            "notes"}
POP_KEYS = {"prior", "prior_months", "phenotypes", "subclonal", "subclone_fraction",
            "weight_kg", "baseline_sld_mm", "dropout_per_year", "doubling_days", "description",
            "accrual_months"}
ARM_KEYS = {"label", "regimen"}
REGIMEN_KEYS = {"drug", "mg", "mg_per_kg", "every_days", "days", "then_every_days", "on_days",
                "cycle_days", "loading_mg", "loading_mg_per_kg", "free_fraction", "route",
                "dose_intensity"}
PUB_KEYS = {"median_pfs_months", "hazard_ratio", "n", "p", "endpoint", "source", "notes",
            "orr", "cbr", "subgroups"}


class _Where:
    """File name and line numbers of keys, found by scanning the text (tomllib keeps none)."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.lines = text.splitlines()

    def line(self, key: str, section: str | None = None, near: str | None = None) -> int | None:
        start = 0
        if section is not None:
            pat = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]")
            for i, ln in enumerate(self.lines):
                if pat.match(ln):
                    start = i
                    break
        kpat = re.compile(r"(^|[\s{,\[])\"?" + re.escape(key) + r"\"?\s*=")
        for i in range(start, len(self.lines)):
            text = self.lines[i].split("#", 1)[0]
            if kpat.search(text) and (near is None or near in text):
                return i + 1
        return self.line(key, section) if near is not None else None

    def error(self, key: str, message: str, section: str | None = None,
              near: str | None = None) -> TrialError:
        ln = self.line(key.split(".")[-1], section, near)
        at = f", line {ln}" if ln else ""
        return TrialError(f"trial {self.path}{at}: key '{key}': {message}")


class _Near:
    """A :class:`_Where` that points errors at the line holding ``near`` (a regimen entry)."""

    def __init__(self, where: _Where, near: str):
        self.where, self.near, self.path = where, near, where.path

    def error(self, key, message, section=None, near=None):
        return self.where.error(key, message, section, near or self.near)


@dataclass(frozen=True)
class Population:
    """Who enters the trial.

    Attributes
    ----------
    prior : dict
        Prior therapy -> fraction of patients (fractions sum to 1), keys of :data:`PRIORS`.
    prior_months : float
        Median months of prior therapy before randomisation (log-normal between patients).
    phenotypes : dict
        Phenotype -> prevalence in [0, 1] (independent).
    subclonal : tuple of str
        Phenotypes carried as a minor subclone at the start of prior therapy (acquired
        resistance, default ``ESR1_mutant``) rather than by every tumour cell.
    subclone_fraction : float
        Median initial fraction of such a subclone.
    weight_kg, baseline_sld_mm, dropout_per_year, doubling_days, accrual_months : float
        Body weight for doses in mg/kg; median baseline sum of longest diameters; dropout
        hazard; median untreated tumour volume doubling time (days) before calibration;
        accrual period (censoring at the cutoff is staggered over it).
    """

    prior: dict = field(default_factory=lambda: {"none": 1.0})
    prior_months: float = 12.0
    phenotypes: dict = field(default_factory=dict)
    subclonal: tuple = ("ESR1_mutant",)
    subclone_fraction: float = 1e-3
    weight_kg: float = 70.0
    baseline_sld_mm: float = 60.0
    dropout_per_year: float = 0.1
    doubling_days: float = 120.0
    accrual_months: float = 0.0
    description: str = ""


@dataclass(frozen=True)
class Arm:
    """One arm: a label and a regimen (drug, mg, Schedule) as a :class:`Treatment`."""

    name: str
    label: str
    regimen: tuple          # ((drug, mg, Schedule), ...)
    free_fraction: dict = field(default_factory=dict)   # drug -> unbound fraction (replaces the catalogue fu)
    bioavailability: dict = field(default_factory=dict)  # drug -> F of its route (replaces pk F)
    dose_intensity: dict = field(default_factory=dict)   # drug -> delivered share (mg scaled)

    @property
    def treatment(self) -> Treatment:
        """The regimen at the catalogue's PK (the trial engine applies ``free_fraction`` and
        ``route`` on top, as parameters of the derived model)."""
        return Treatment({d: Dose(mg, "mg", sch) for d, mg, sch in self.regimen},
                         name=self.label)

    @property
    def drugs(self) -> tuple:
        return tuple(d for d, _, _ in self.regimen)


@dataclass(frozen=True)
class Published:
    """The trial's published results (for comparison only; never used by the simulation)."""

    median_pfs_months: dict = field(default_factory=dict)
    hazard_ratio: tuple | None = None
    n: int | None = None
    p: float | None = None
    endpoint: str = "PFS"
    source: str = ""
    notes: str = ""
    orr: dict = field(default_factory=dict)
    cbr: dict = field(default_factory=dict)
    subgroups: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Trial:
    """A virtual trial, read from TOML with :meth:`from_toml`.

    Attributes
    ----------
    name, source : str
    months : float
        Follow-up until the data cutoff.
    scan_every_weeks : float
        Tumour assessment interval.
    population : Population
    arms : dict of str to Arm
        ``control`` first; the other arm(s) are compared with it.
    published : Published
    path : str
        The file it came from.
    """

    name: str
    source: str
    months: float
    scan_every_weeks: float
    population: Population
    arms: dict
    published: Published
    path: str = ""
    notes: str = ""

    @classmethod
    def from_toml(cls, path, *, catalog: Catalog | None = None) -> Trial:
        """Read and check a trial definition.

        Parameters
        ----------
        path : str or Path
        catalog : Catalog, optional
            Drugs (with PK) and phenotypes to check against; default the bundled model's.

        Raises
        ------
        TrialError
            Unreadable or malformed TOML, an unknown key, drug or phenotype, a prevalence
            outside [0, 1], a regimen that cannot be given; the message names file, key, line.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise TrialError(f"trial file {path} cannot be read: {err.strerror or err}") from None
        return cls.from_text(text, str(path), catalog=catalog)

    @classmethod
    def from_text(cls, text: str, path: str = "<string>", *,
                  catalog: Catalog | None = None) -> Trial:
        w = _Where(path, text)
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise TrialError(f"trial {path}: not valid TOML: {err}") from None
        except RecursionError:
            raise TrialError(f"trial {path}: TOML nested too deeply") from None
        if catalog is None:
            catalog = load_model().catalog
        elif not isinstance(catalog, Catalog):
            catalog = catalog.catalog          # a Model
        return _parse(raw, w, catalog)


def _unknown(w: _Where, d: dict, allowed: set, where: str, section: str | None = None):
    for k in d:
        if k not in allowed:
            full = f"{where}.{k}" if where else k
            raise w.error(full, f"unknown key{suggest(k, allowed)}; allowed: "
                          f"{', '.join(sorted(allowed))}", section)


def _number(w: _Where, key: str, v, section=None, *, positive=True, integer=False,
            lo=None, hi=None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise w.error(key, f"must be a number, got {v!r}", section)
    if integer and int(v) != v:
        raise w.error(key, f"must be a whole number, got {v!r}", section)
    if positive and v <= 0:
        raise w.error(key, f"must be > 0, got {v!r}", section)
    if lo is not None and v < lo or hi is not None and v > hi:
        raise w.error(key, f"must lie in [{lo}, {hi}], got {v!r}", section)
    return float(v)


def _parse(raw: dict, w: _Where, catalog: Catalog) -> Trial:
    _unknown(w, raw, TOP_KEYS, "")
    for k in ("name", "months", "scan_every_weeks", "arms"):
        if k not in raw:
            raise TrialError(f"trial {w.path}: missing key '{k}'")
    name = raw["name"]
    if not isinstance(name, str) or not name:
        raise w.error("name", f"must be a non-empty string, got {name!r}")
    months = _number(w, "months", raw["months"])
    scan = _number(w, "scan_every_weeks", raw["scan_every_weeks"])
    pop = _population(raw.get("population", {}), w, catalog)
    arms_raw = raw["arms"]
    if not isinstance(arms_raw, dict) or "control" not in arms_raw or len(arms_raw) < 2:
        raise w.error("arms", "needs [arms.control] and at least one other arm")
    arms = {}
    for an in ["control"] + [a for a in arms_raw if a != "control"]:
        arms[an] = _arm(an, arms_raw[an], w, catalog, pop.weight_kg)
    published = _published(raw.get("published", {}), w, tuple(arms))
    return Trial(name=name, source=str(raw.get("source", "")), months=months,
                 scan_every_weeks=scan, population=pop, arms=arms, published=published,
                 path=w.path, notes=str(raw.get("notes", "")))


def _population(p, w: _Where, catalog: Catalog) -> Population:
    sec = "population"
    if not isinstance(p, dict):
        raise w.error("population", "must be a table")
    _unknown(w, p, POP_KEYS, "population", sec)
    prior = p.get("prior", "none")
    if isinstance(prior, str):
        prior = {prior: 1.0}
    if not isinstance(prior, dict) or not prior:
        raise w.error("population.prior", f"must be a prior therapy or a table of fractions, "
                      f"got {prior!r}", sec)
    for k, v in prior.items():
        if k not in PRIORS:
            raise w.error("population.prior", f"unknown prior therapy '{k}'"
                          f"{suggest(k, PRIORS)}; known: {', '.join(PRIORS)}", sec)
        _number(w, "population.prior", v, sec, positive=False, lo=0.0, hi=1.0)
    if abs(sum(prior.values()) - 1.0) > 1e-6:
        raise w.error("population.prior", f"fractions must sum to 1, got {sum(prior.values()):g}",
                      sec)
    phen = p.get("phenotypes", {})
    if not isinstance(phen, dict):
        raise w.error("population.phenotypes", "must be a table of phenotype = prevalence", sec)
    known = set(catalog.phenotypes)
    for k, v in phen.items():
        if k not in known:
            raise w.error(f"population.phenotypes.{k}", f"unknown phenotype"
                          f"{suggest(k, known)}; known: {', '.join(sorted(known))}", sec)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise w.error(f"population.phenotypes.{k}",
                          f"prevalence must lie in [0, 1], got {v!r}", sec)
    sub = p.get("subclonal", ["ESR1_mutant"])
    if not isinstance(sub, list) or not all(isinstance(s, str) for s in sub):
        raise w.error("population.subclonal", "must be a list of phenotype names", sec)
    for s in sub:
        if s not in known:
            raise w.error("population.subclonal", f"unknown phenotype '{s}'{suggest(s, known)}",
                          sec)
    kw = {}
    for k in ("prior_months", "weight_kg", "baseline_sld_mm", "doubling_days"):
        if k in p:
            kw[k] = _number(w, f"population.{k}", p[k], sec)
    for k in ("dropout_per_year", "accrual_months"):
        if k in p:
            kw[k] = _number(w, f"population.{k}", p[k], sec, positive=False, lo=0.0)
    if "subclone_fraction" in p:
        kw["subclone_fraction"] = _number(w, "population.subclone_fraction",
                                          p["subclone_fraction"], sec, lo=0.0, hi=1.0)
    return Population(prior={k: float(v) for k, v in prior.items()},
                      phenotypes={k: float(v) for k, v in phen.items()}, subclonal=tuple(sub),
                      description=str(p.get("description", "")), **kw)


def _arm(name: str, a, w: _Where, catalog: Catalog, weight: float) -> Arm:
    sec = f"arms.{name}"
    if not isinstance(a, dict):
        raise w.error(sec, "must be a table with label and regimen")
    _unknown(w, a, ARM_KEYS, sec, sec)
    reg = a.get("regimen")
    if not isinstance(reg, list) or not reg:
        raise w.error(f"{sec}.regimen", "must be a non-empty list of { drug = ..., mg = ..., "
                      "every_days = ... }", sec)
    out, seen, ff, bio, intensity = [], set(), {}, {}, {}
    for e in reg:
        if not isinstance(e, dict):
            raise w.error(f"{sec}.regimen", f"each entry must be an inline table, got {e!r}", sec)
        _unknown(w, e, REGIMEN_KEYS, f"{sec}.regimen", sec)
        d, mg, sch = regimen_entry(e, w, sec, catalog, weight)
        if "dose_intensity" in e:
            # reductions and interruptions as the planned dose's delivered share, averaged
            # over the treatment (linear PK: the same mean exposure)
            rdi = _number(w, f"{sec}.regimen.dose_intensity", e["dose_intensity"], sec,
                          lo=0.0, hi=1.0)
            mg *= rdi
            intensity[d] = rdi
        if "free_fraction" in e:
            ff[d] = _number(w, f"{sec}.regimen.free_fraction", e["free_fraction"], sec,
                            lo=0.0, hi=1.0)
        if "route" in e:
            bio[d] = _route_bioavailability(e["route"], d, _Near(w, f'"{d}"'), sec, catalog)
        if d in seen:
            raise w.error(f"{sec}.regimen", f"drug '{d}' appears twice in one arm", sec)
        seen.add(d)
        out.append((d, mg, sch))
    return Arm(name=name, label=str(a.get("label", name)), regimen=tuple(out), free_fraction=ff,
               bioavailability=bio, dose_intensity=intensity)


def _route_bioavailability(route, d: str, w: _Where, sec: str, catalog: Catalog) -> float:
    """F of drug ``d`` given by ``route`` (its catalogue pk's ``F_<route>``, e.g. ``F_oral``).

    A drug's catalogue PK is for its label route; another route's bioavailability relative
    to the same systemic volume and clearance is the catalogue number ``F_<route>``.
    """
    key = f"{sec}.regimen.route"
    pk = catalog.drug(d).get("pk") or {}
    routes = sorted(k[2:] for k in pk if k.startswith("F_"))
    if not isinstance(route, str) or not re.fullmatch(r"[a-z]+", route):
        raise w.error(key, f"drug '{d}': route must be a word such as \"oral\", got {route!r}",
                      sec)
    if f"F_{route}" not in pk:
        raise w.error(key, f"drug '{d}': the catalogue has no bioavailability for route "
                      f"'{route}' (pk.F_{route}); its PK is for the label route"
                      + (f"; other routes: {', '.join(routes)}" if routes else ""), sec)
    return _number(w, key, pk[f"F_{route}"], sec, lo=0.0, hi=1.0)


def regimen_entry(e: dict, w: _Where, sec: str, catalog: Catalog, weight: float):
    """One regimen entry -> (drug, mg per administration, Schedule) in hours from day 1."""
    key = f"{sec}.regimen"
    d = e.get("drug")
    drugs = set(catalog.drugs)
    if not isinstance(d, str) or d not in drugs:
        raise w.error(f"{key}.drug", f"unknown drug {d!r}{suggest(str(d), drugs)}; known: "
                      f"{', '.join(sorted(drugs))}", sec, near=f'"{d}"')
    w = _Near(w, f'"{d}"')
    pk = catalog.drug(d).get("pk")
    if not isinstance(pk, dict):
        raise w.error(f"{key}.drug", f"drug '{d}' has no PK in the catalogue, so it cannot be "
                      f"given in mg", sec)
    if ("mg" in e) == ("mg_per_kg" in e):
        raise w.error(f"{key}.mg", f"drug '{d}': give exactly one of mg and mg_per_kg", sec)
    mg = (_number(w, f"{key}.mg", e["mg"], sec) if "mg" in e else
          _number(w, f"{key}.mg_per_kg", e["mg_per_kg"], sec) * weight)
    day = 24.0
    has = lambda *ks: [k for k in ks if k in e]  # noqa: E731
    n_load = 1
    if has("loading_mg", "loading_mg_per_kg"):
        load = (_number(w, f"{key}.loading_mg", e["loading_mg"], sec) if "loading_mg" in e else
                _number(w, f"{key}.loading_mg_per_kg", e["loading_mg_per_kg"], sec) * weight)
        ratio = load / mg
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise w.error(f"{key}.loading_mg", f"drug '{d}': a loading dose must be a whole "
                          f"multiple of the maintenance dose ({load:g} vs {mg:g} mg)", sec)
        n_load = int(round(ratio))
    try:
        if has("on_days", "cycle_days"):
            if not ("on_days" in e and "cycle_days" in e) or has("days", "then_every_days"):
                raise w.error(f"{key}.on_days", f"drug '{d}': on_days needs cycle_days (and no "
                              f"days / then_every_days)", sec)
            on = _number(w, f"{key}.on_days", e["on_days"], sec)
            cyc = _number(w, f"{key}.cycle_days", e["cycle_days"], sec)
            every = _number(w, f"{key}.every_days", e.get("every_days", 1), sec)
            if on >= cyc:
                raise w.error(f"{key}.on_days", f"drug '{d}': on_days ({on:g}) must be shorter "
                              f"than cycle_days ({cyc:g})", sec)
            sch = Schedule.intermittent(on=on * day, every=cyc * day, dose_every=every * day)
        elif "days" in e:
            days = e["days"]
            if not isinstance(days, list) or not days:
                raise w.error(f"{key}.days", f"drug '{d}': days must be a list of day numbers "
                              f"(day 1 first)", sec)
            for x in days:
                _number(w, f"{key}.days", x, sec, positive=True, lo=1)
            if "every_days" in e:
                raise w.error(f"{key}.every_days", f"drug '{d}': with days, say then_every_days",
                              sec)
            then = e.get("then_every_days")
            hours = [(x - 1) * day for x in days]
            if n_load > 1:
                hours = [hours[0] + k * 1.0 for k in range(n_load)] + hours[1:]
            sch = (Schedule.loading(hours, then_every=_number(w, f"{key}.then_every_days", then,
                                                              sec) * day)
                   if then is not None else Schedule.at(hours))
        elif "every_days" in e:
            every = _number(w, f"{key}.every_days", e["every_days"], sec)
            if n_load > 1:   # the loading dose as n maintenance doses an hour apart
                sch = Schedule.loading([float(k) for k in range(n_load)], then_every=every * day)
            else:
                sch = Schedule.every(every * day)
        else:
            raise w.error(f"{key}.every_days", f"drug '{d}': give a schedule (every_days, days "
                          f"[+ then_every_days], or on_days + cycle_days)", sec)
        Dose(mg, "mg", sch)
    except TrialError:
        raise
    except ValueError as err:
        raise w.error(key, f"drug '{d}': {err}", sec) from None
    return d, mg, sch


def _published(p, w: _Where, arms: tuple) -> Published:
    sec = "published"
    if not isinstance(p, dict):
        raise w.error("published", "must be a table")
    _unknown(w, p, PUB_KEYS, "published", sec)
    med = p.get("median_pfs_months", {})
    if not isinstance(med, dict):
        raise w.error("published.median_pfs_months", "must be a table arm = months", sec)
    for k, v in med.items():
        if k not in arms:
            raise w.error(f"published.median_pfs_months.{k}", f"no arm named '{k}'; arms: "
                          f"{', '.join(arms)}", sec)
        _number(w, f"published.median_pfs_months.{k}", v, sec)
    hr = p.get("hazard_ratio")
    if hr is not None:
        if isinstance(hr, (int, float)) and not isinstance(hr, bool):
            hr = [hr]
        if not isinstance(hr, list) or len(hr) not in (1, 3):
            raise w.error("published.hazard_ratio", "must be HR or [HR, lower, upper]", sec)
        for x in hr:
            _number(w, "published.hazard_ratio", x, sec)
        if len(hr) == 3 and not hr[1] <= hr[0] <= hr[2]:
            raise w.error("published.hazard_ratio", f"needs lower <= HR <= upper, got {hr}", sec)
        hr = tuple(float(x) for x in hr)
    n = p.get("n")
    if n is not None:
        n = int(_number(w, "published.n", n, sec, integer=True))
    pv = p.get("p")
    if pv is not None:
        pv = _number(w, "published.p", pv, sec, positive=False, lo=0.0, hi=1.0)
    return Published(median_pfs_months={k: float(v) for k, v in med.items()}, hazard_ratio=hr,
                      n=n, p=pv, endpoint=str(p.get("endpoint", "PFS")),
                      source=str(p.get("source", "")), notes=str(p.get("notes", "")),
                      orr=dict(p.get("orr", {})), cbr=dict(p.get("cbr", {})),
                      subgroups=dict(p.get("subgroups", {})))


def regimen_treatment(regimen, name: str = "") -> Treatment:
    """A Treatment from ((drug, mg, Schedule), ...)."""
    return Treatment({d: Dose(mg, "mg", sch) for d, mg, sch in regimen}, name=name)
