"""The ``crosstalk`` command: drug experiments on the bundled model (or any SBML/Antimony file).

Uses the public API (``import simulator as sim``) and the bundled model's atlas; every check
of ids and values is the library's, mapped here to exit codes:

0  success
1  a check or experiment failed (``atlas``: a behaviour not reproduced)
2  usage error or bad input: unknown drug, phenotype, readout or parameter, bad dose
3  model error: the model file cannot be read or uses unsupported SBML
4  integration error: the solver failed
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import simulator as sim
from simulator import cache_limit
from simulator.estimation.options import (HEARTBEAT_SECONDS, MIN_GEWEKE_SAMPLES, OPTIMIZERS,
                                          SAMPLERS)
from simulator.lab.address import LOCALHOST, check_host, check_port

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MODEL, EXIT_INTEGRATION = 0, 1, 2, 3, 4

EXIT_CODES = """exit codes:
  0  success
  1  a check or experiment failed (atlas: a behaviour not reproduced, a known limit aside)
  2  usage error or bad input (unknown drug, phenotype, readout or parameter; bad dose)
  3  model error (file unreadable, invalid or unsupported SBML/Antimony)
  4  integration error (the solver failed)"""


class CliError(Exception):
    """A user-facing error with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- helpers

def _progress_enabled(args) -> bool:
    if getattr(args, "quiet", False):
        return False
    return sys.stderr.isatty()


def _load(args):
    return sim.load_model(args.model, catalog=args.catalog)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"{what} must be a number, got '{text}'") from None
    if not math.isfinite(value):
        raise CliError(f"{what} must be finite, got '{text}'")
    return value


def _pairs(items, what: str) -> dict[str, float]:
    """Parse repeated ``name=value`` options."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"--{what} expects name=value, got '{item}'")
        out[name.strip()] = _number(value.strip(), f"{what} '{name}'")
    return out


def _doses(text: str, drug: str) -> list[float]:
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise CliError(f"the dose list of '{drug}' is empty; give e.g. --doses 0.1,1,10")
    return [_number(p.strip(), f"dose of '{drug}'") for p in parts]


def _phenotypes(args) -> list[str]:
    return [p for item in (args.phenotype or []) for p in item.split(",") if p]


def _list(items) -> list[str]:
    """Repeated and comma-separated option values as one list."""
    return [x for item in (items or []) for x in item.split(",") if x]


def _out_dir(args) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_table(frame, out: Path, stem: str) -> list[str]:
    """CSV always, Parquet too when pyarrow imports; returns the file names written."""
    written = [f"{stem}.csv"]
    frame.to_csv(out / f"{stem}.csv", index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return written
    frame.to_parquet(out / f"{stem}.parquet", index=False)
    written.append(f"{stem}.parquet")
    return written


def _provenance(out: Path, args, model, files, extra=None) -> None:
    options = {k: v for k, v in vars(args).items() if k not in ("func",)}
    record = {
        "command": " ".join(shlex.quote(a) for a in ["crosstalk", *args.argv]),
        "subcommand": args.command,
        "parameters": options,
        "model": {"id": model.id, "hash": model.hash, "source": getattr(args, "model_source", None)
                  or getattr(args, "model", None) or "bundled",
                  "catalog": model.catalog.source},
        "version": sim.__version__,
        "python": sys.version.split()[0],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": files,
        **(extra or {}),
    }
    (out / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")


def _savefig(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    sim.plot.pyplot(headless=True).close(fig)


# --------------------------------------------------------------------------- subcommands

def cmd_drugs(args) -> int:
    table = sim.drugs()
    cols = ["target", "clinical_exposure_nM", "potency_nM", "mechanism"]
    with _pd_display():
        print(table[cols].to_string(max_colwidth=70, na_rep="n/a"))  # no label PK
    return EXIT_OK


def cmd_phenotypes(args) -> int:
    table = sim.phenotypes()
    with _pd_display():
        print(table[["overrides", "description"]].to_string(max_colwidth=90))
    return EXIT_OK


def _pd_display():
    return pd.option_context("display.width", 200, "display.max_columns", 10)


def cmd_simulate(args) -> int:
    model = _load(args)
    drugs = _pairs(args.drug, "drug")
    params = _pairs(args.param, "param")
    phenotype = _phenotypes(args)
    readouts = list(sim.check_readouts(model, _list(args.readout))) if args.readout else []
    if args.hours <= 0:
        raise CliError(f"--hours must be > 0, got {args.hours:g}")
    t = np.linspace(0.0, args.hours, args.points)
    traj = sim.run_treatment(model, drugs, t, params=params, phenotype=phenotype or None,
                             equilibrate=not args.no_equilibrate)
    equil = traj.provenance.get("equilibration")
    if equil and not equil["converged"]:
        print(f"warning: the untreated steady state did not converge (residual "
              f"{equil['residual']:.2g}); starting from the closest state found",
              file=sys.stderr)
    out = _out_dir(args)
    ids = readouts or list(sim.check_readouts(model, None)) + _variable_parameters(model)
    frame = traj.to_wide(ids).reset_index()
    files = _write_table(frame, out, "trajectory")
    if readouts:
        plt = sim.plot.pyplot(headless=True)
        fig, axes = plt.subplots(len(readouts), 1, figsize=(7, 2.6 * len(readouts)),
                                 squeeze=False, sharex=True)
        for ax, r in zip(axes[:, 0], readouts):
            ax.plot(traj.t, traj[r])
            ax.set_ylabel(r)
        axes[-1, 0].set_xlabel("hours")
        label = ", ".join(f"{k} {v:g} nM" for k, v in drugs.items()) or "untreated"
        axes[0, 0].set_title(label + (f" [{', '.join(phenotype)}]" if phenotype else ""))
        _savefig(fig, out / "trajectory.png")
        files.append("trajectory.png")
    _provenance(out, args, model, files, {"run": traj.provenance, "success": traj.success})
    if readouts:
        last = ", ".join(f"{r} = {traj[r][-1]:.4g}" for r in readouts)
        print(f"t = {args.hours:g} h: {last}")
    print(f"wrote {', '.join(files)} and provenance.json to {out}")
    return EXIT_OK


def _variable_parameters(model) -> list[str]:
    """Parameters that rate rules change (reported in the CSV with species and observables)."""
    shown = set(model.species_ids) | set(model.assignment_rule_ids)
    return [p.id for p in model.parameters if not p.constant and p.id not in shown]


def cmd_dose_response(args) -> int:
    model = _load(args)
    background = _pairs(args.with_drug, "with")
    phenotype = _phenotypes(args)
    doses = _doses(args.doses, args.drug)
    dr = sim.dose_response(model, args.drug, doses, readout=args.readout, at_time=args.at,
                           phenotype=phenotype or None, drugs=background or None,
                           normalize=args.normalize, progress=_progress_enabled(args))
    out = _out_dir(args)
    files = _write_table(dr.table, out, "dose_response")
    summary = dr.summary()
    (out / "fit.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    files.append("fit.json")
    plt = sim.plot.pyplot(headless=True)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    dr.plot(ax=ax)
    _savefig(fig, out / "dose_response.png")
    files.append("dose_response.png")
    _provenance(out, args, model, files, {"run": dr.provenance, "notes": list(dr.notes)})
    for note in dr.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{args.drug} on {args.readout} at {args.at:g} h: IC50 = {summary['ic50']:.4g} nM, "
          f"Emax = {summary['emax']:.4g}, Hill slope = {summary['slope']:.3g}")
    print(f"wrote {', '.join(files)} and provenance.json to {out}")
    return EXIT_FAILED if len(dr.failures) else EXIT_OK


def cmd_combination(args) -> int:
    model = _load(args)
    phenotype = _phenotypes(args)
    doses_a, doses_b = _doses(args.doses_a, args.drug_a), _doses(args.doses_b, args.drug_b)
    combo = sim.combination(model, (args.drug_a, doses_a), (args.drug_b, doses_b),
                            readout=args.readout, at_time=args.at, phenotype=phenotype or None,
                            progress=_progress_enabled(args))
    out = _out_dir(args)
    files = _write_table(combo.table, out, "combination")
    scores = {m: (getattr(combo, m).score if getattr(combo, m) is not None else None)
              for m in ("bliss", "loewe", "hsa", "zip")}
    (out / "synergy.json").write_text(json.dumps(scores, indent=2, default=float) + "\n")
    files.append("synergy.json")
    plt = sim.plot.pyplot(headless=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    combo.plot_heatmap("bliss", ax=axes[0])
    try:
        combo.plot_isobologram(ax=axes[1])
    except sim.SimulatorError as err:  # e.g. 50% never reached: say so on the panel
        axes[1].text(0.5, 0.5, str(err), ha="center", va="center", wrap=True,
                     transform=axes[1].transAxes, fontsize=8)
        axes[1].set_axis_off()
    _savefig(fig, out / "combination.png")
    files.append("combination.png")
    _provenance(out, args, model, files, {"run": combo.provenance, "notes": list(combo.notes),
                                          "scores": scores})
    for note in combo.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{args.drug_a} + {args.drug_b} on {args.readout} at {args.at:g} h: " + ", ".join(
        f"{m} {s:+.2f}" if s is not None else f"{m} n/a" for m, s in scores.items()))
    print(f"wrote {', '.join(files)} and provenance.json to {out}")
    return EXIT_FAILED if len(combo.failures) else EXIT_OK


def cmd_sensitivity(args) -> int:
    model = _load(args)
    phenotype = _phenotypes(args)
    drugs = _pairs(args.drug, "drug")
    params = "all" if args.params == "all" else _list([args.params])
    res = sim.sensitivity(model, readout=args.readout, params=params, n=args.n,
                          method=args.method, phenotype=phenotype or None, drugs=drugs or None,
                          at_time=args.at, seed=args.seed, progress=_progress_enabled(args))
    out = _out_dir(args)
    files = _write_table(res.table.reset_index(), out, "sensitivity")
    plt = sim.plot.pyplot(headless=True)
    fig, ax = plt.subplots(figsize=(7, 5))
    res.plot(ax=ax)
    _savefig(fig, out / "sensitivity.png")
    files.append("sensitivity.png")
    _provenance(out, args, model, files)
    with _pd_display():
        print(res.table.head(10).to_string())
    print(f"wrote {', '.join(files)} and provenance.json to {out}")
    return EXIT_OK


def cmd_atlas(args) -> int:
    out = Path(args.out)
    sections = sim.sections_named(_list([args.only])) if args.only else None
    res = sim.run_atlas(out, quick=args.quick, progress=_progress_enabled(args),
                    images_to=args.images_to, sections=sections)
    for r in res.sections:
        if r.section.key:
            print(f"{r.status.upper():5s} {r.section.key}")
        elif r.status == "error":
            print(f"ERROR {r.section.title}: {r.detail}")
    n = sum(1 for r in res.sections if r.section.key)
    passed = sum(1 for r in res.sections if r.status == "pass")
    known = sum(1 for r in res.sections if r.status == "known")
    limits = f" ({known} a known limit of the model, docs/model.md)" if known else ""
    print(f"{passed} of {n} behaviours reproduced{limits} in {res.seconds:.0f} s; see {res.index}")
    return EXIT_FAILED if res.failed else EXIT_OK


def cmd_warmup(args) -> int:
    seconds = sim.warm_up()
    print(f"done in {seconds:.0f} s; the next runs start from the cache")
    return EXIT_OK


def cmd_cache(args) -> int:
    if args.clear:
        files, freed = cache_limit.clear()
        print(f"removed {files} files ({freed / 2**20:.1f} MB)")
    elif args.prune:
        files, freed = cache_limit.prune()
        print(f"removed {files} least recently used files ({freed / 2**20:.1f} MB)")
    print(cache_limit.usage())
    return EXIT_OK


def _lesion_mapping(args):
    """The trial's lesion mapping: the in-vivo default with the options' values on top."""
    if args.threshold is None and args.apoptosis_weight is None:
        return None
    given = {k: v for k, v in (("threshold", args.threshold),
                               ("apoptosis_weight", args.apoptosis_weight)) if v is not None}
    return dataclasses.replace(sim.LesionMapping.in_vivo(), source="command line", **given)


def cmd_trial(args) -> int:
    for name, low in (("patients", 1), ("draws", 1)):
        if getattr(args, name) < low:
            raise CliError(f"--{name} must be at least {low}, got {getattr(args, name)}")
    model = _load(args)
    trial = sim.Trial.from_toml(args.file, catalog=model.catalog)
    out = _out_dir(args)
    res = sim.virtual_trial(model, trial, patients=args.patients, seed=args.seed,
                            executor=args.executor, progress=_progress_enabled(args),
                            store=None if args.no_store else out / "store", draws=args.draws,
                            calibrate=not args.no_calibrate, mapping=_lesion_mapping(args))
    res.patients.to_csv(out / "patients.csv", index=False)
    _savefig(res.plot(), out / "km.png")
    (out / "summary.json").write_text(res.to_json())
    files = ["patients.csv", "km.png", "summary.json"]
    _provenance(out, args, model, files, extra={"trial": res.provenance})
    with _pd_display():
        print(res.compare().to_string(float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {', '.join(files)} and provenance.json to {out}")
    return EXIT_OK


def _write_goodness(result, held_out: dict, out: Path) -> list[str]:
    """goodness_of_fit.tsv (the fit on its data, then each held-out problem predicted at
    it) and one prediction figure per held-out problem; prints the pooled scores."""
    tables = [result.goodness_of_fit().assign(data="training")]
    files = []
    for name, problem in held_out.items():
        tables.append(result.goodness_of_fit(problem).assign(data=name))
        figure = f"prediction_{name}.png"
        _savefig(result.plot_fit(problem=problem), out / figure)
        files.append(figure)
    table = pd.concat(tables, ignore_index=True)
    table = table[["data"] + [c for c in table.columns if c != "data"]]
    table.to_csv(out / "goodness_of_fit.tsv", sep="\t", index=False, float_format="%.6g")
    for _, row in table[table["observableId"] == "all"].iterrows():
        print(f"{row['data']}: {row['n']} measurements, median R² {row['r2']:.3f}, "
              f"median NRMSE {row['nrmse']:.3f}, chi²/n {row['chi2_per_point']:.3g}")
    return ["goodness_of_fit.tsv"] + files


def cmd_calibrate(args) -> int:
    if args.starts < 1:
        raise CliError(f"--starts must be at least 1, got {args.starts}")
    if args.max_iterations < 1:
        raise CliError(f"--max-iterations must be at least 1, got {args.max_iterations}")
    if (args.problem is None) == (not args.example):
        raise CliError("give a PEtab problem file or --example (not both)")
    if args.sample is not None:
        if args.sample < 1:
            raise CliError(f"--sample must be at least 1, got {args.sample}")
        if args.burn_in is None and args.sample < MIN_GEWEKE_SAMPLES:
            raise CliError(f"--sample {args.sample}: Geweke's burn-in test needs at least "
                           f"{MIN_GEWEKE_SAMPLES} samples; sample more or give --burn-in")
        if args.burn_in is not None and not 0 <= args.burn_in <= args.sample:
            raise CliError(f"--burn-in must be from 0 to --sample ({args.sample}), got "
                           f"{args.burn_in}")
    elif args.burn_in is not None or args.sampler != "adaptive_metropolis":
        raise CliError("--burn-in and --sampler go with --sample N")
    problem = sim.load_petab(sim.example_problem() if args.example else args.problem)
    names = [Path(path).stem for path in args.predict]
    clash = sorted({n for n in names if names.count(n) > 1 or n == "training"})
    if clash:
        raise CliError(f"--predict problems need distinct file names other than 'training' "
                       f"(they name the rows of goodness_of_fit.tsv): {', '.join(clash)}")
    unknown = [pid for pid in args.profile if pid != "all" and pid not in problem.parameter_ids]
    if unknown:
        raise CliError(f"--profile {', '.join(unknown)}: not an estimated parameter of "
                       f"{args.problem or 'the example'} (estimated: "
                       f"{', '.join(problem.parameter_ids)})")
    held_out = {name: sim.load_petab(path) for name, path in zip(names, args.predict)}
    for other in held_out.values():
        sim.check_predictable(problem, other)
    args.model_source = str(problem.tables.sbml_file)
    out = _out_dir(args)
    with sim.open_executor(args.executor, scheduler=args.scheduler) as executor:
        result = sim.calibrate(problem, n_starts=args.starts, seed=args.seed,
                               optimizer=args.optimizer, executor=executor,
                               progress=_progress_enabled(args),
                               store=out / "starts" if not args.no_store else None,
                               max_iterations=args.max_iterations,
                               from_nominal=args.from_nominal,
                               # plain lines, shown in a log file too (unlike the bar)
                               heartbeat=None if args.quiet else HEARTBEAT_SECONDS)
        n_ok = int((~result.starts["failed"]).sum())
        profiled = _write_profiles(result, args, out, executor) if n_ok and args.profile \
            else []
    starts = result.starts.copy()
    for col in ("x", "x0"):
        starts[col] = [";".join(f"{v:.10g}" for v in xs) if isinstance(xs, list) else ""
                       for xs in starts[col]]
    starts.to_csv(out / "starts.tsv", sep="\t", index=False)
    files = ["starts.tsv"]
    if n_ok:
        result.write_parameter_table(out / "parameters_fitted.tsv")
        files.append("parameters_fitted.tsv")
        if args.sbml:
            result.write_sbml(out / "model_fitted.xml")
            files.append("model_fitted.xml")
        _savefig(result.plot_waterfall(reference=args.reference), out / "waterfall.png")
        _savefig(result.plot_fit(), out / "fit.png")
        files += ["waterfall.png", "fit.png"]
        files += _write_goodness(result, held_out, out)
    files += profiled
    extra = {"calibration": result.provenance}
    samples = None
    if n_ok and args.sample is not None:
        samples = sim.sample(result, n_samples=args.sample, seed=args.seed,
                             sampler=args.sampler, burn_in=args.burn_in,
                             progress=_progress_enabled(args))
        files += _write_samples(samples, out)
        extra["sampling"] = samples.provenance
    _provenance(out, args, problem.model, files, extra=extra)
    print(f"{result}; wrote {', '.join(files)} to {out}")
    if n_ok:
        best = result.best
        print(f"best start {best['start']}: nllh {best['nllh']:.6g}")
        if args.reference is not None:
            print(f"reference nllh {args.reference:.6g}: best minus reference "
                  f"{best['nllh'] - args.reference:+.4g}; "
                  f"{result.starts_within(args.reference)} of {len(result.starts)} "
                  "starts within 0.1 of it")
        for pid, scale, v in zip(problem.parameter_ids, problem.scales, result.best_x):
            linear = float(sim.estimation.likelihood.to_linear(np.array([scale]), np.array([v]))[0])
            print(f"  {pid} = {linear:.6g}" + (f"   ({scale} {v:.6g})" if scale != "lin" else ""))
    if samples is not None:
        print(samples)
        if samples.failures:
            print(f"note: {samples.failures} proposals could not be simulated (rejected); "
                  f"the first: {samples.failure}", file=sys.stderr)
        if samples.converged:
            with _pd_display():
                print(samples.summary().to_string(float_format=lambda v: f"{v:.4g}"))
        else:
            print(f"note: Geweke's test finds no converged stretch in the {args.sample} "
                  "samples; sample longer or give --burn-in", file=sys.stderr)
    return EXIT_OK if n_ok else EXIT_FAILED


def _write_profiles(result, args, out: Path, executor) -> list[str]:
    """profiles.tsv (each parameter's path: x on its estimation scale, likelihood ratio,
    nllh), profile_intervals.tsv and profiles.png, around the best fit."""
    names = None if "all" in args.profile else list(dict.fromkeys(args.profile))
    prof = sim.profile(result, parameters=names, optimizer=args.profile_optimizer,
                       max_iterations=min(args.max_iterations, 200), executor=executor,
                       progress=_progress_enabled(args))
    paths = pd.concat([df.assign(parameter=name) for name, df in prof.profiles.items()],
                      ignore_index=True)[["parameter", "x", "ratio", "nllh"]]
    paths.to_csv(out / "profiles.tsv", sep="\t", index=False, float_format="%.10g")
    prof.intervals.to_csv(out / "profile_intervals.tsv", sep="\t", index=False,
                          float_format="%.10g")
    _savefig(prof.plot(), out / "profiles.png")
    with _pd_display():
        print(prof.intervals.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return ["profiles.tsv", "profile_intervals.tsv", "profiles.png"]


def _write_samples(samples, out: Path) -> list[str]:
    """samples.tsv (the whole chain: iteration, burn_in, the parameters on their estimation
    scale, nlpost), trace.png and marginals.png."""
    chain = samples.trace.reset_index()
    chain.insert(1, "burn_in", chain["iteration"] < samples.burn_in)
    chain.to_csv(out / "samples.tsv", sep="\t", index=False, float_format="%.10g")
    _savefig(samples.plot_trace(), out / "trace.png")
    files = ["samples.tsv", "trace.png"]
    if samples.converged:
        _savefig(samples.plot_marginals(), out / "marginals.png")
        files.append("marginals.png")
    return files


def cmd_lab(args) -> int:
    try:
        port, host = check_port(args.port), check_host(args.host)
    except ValueError as err:
        raise CliError(str(err)) from None
    try:
        sim.serve_lab(port=port, host=host, open_browser=not args.no_browser)
    except OSError as err:
        raise CliError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return EXIT_OK


# --------------------------------------------------------------------------- parser

class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _common(p, *, model=True, out=None):
    if model:
        p.add_argument("--model", metavar="PATH",
                       help="SBML (.xml) or Antimony (.ant) file instead of the bundled model")
        p.add_argument("--catalog", metavar="PATH",
                       help="the model's catalogue (TOML: drugs, phenotypes, readouts reset at "
                            "treatment start); the bundled model comes with its own")
    if out:
        p.add_argument("--out", default=out, metavar="DIR", help="output folder")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (nor calibrate's progress lines)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosstalk", formatter_class=_Formatter,
        description="In-silico drug experiments on the ER / RTK / PI3K-Akt-mTOR crosstalk model "
                    "of ER+ breast cancer. Time in hours, concentrations in nM.",
        epilog="examples:\n"
               "  crosstalk drugs\n"
               "  crosstalk simulate --drug letrozole=10 --phenotype HER2_amplified "
               "--readout growth_rate --hours 168 --out out/run1\n"
               "  crosstalk dose-response --drug everolimus --doses 0.1,1,10,100 "
               "--readout pS6 --at 24 --out out/dr\n"
               "  crosstalk atlas --out out/atlas\n"
               "  crosstalk trial simulator/models/trials/bolero2.toml --out out/bolero2\n\n"
               + EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"crosstalk {sim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("simulate", formatter_class=_Formatter,
                       help="simulate a treatment from the untreated steady state",
                       description="Equilibrate the untreated cell (phenotype and --param "
                                   "applied), add the drugs at t = 0 and simulate.",
                       epilog="examples:\n"
                              "  crosstalk simulate --drug letrozole=10 --phenotype "
                              "HER2_amplified --readout growth_rate --hours 168 --out out/run1\n"
                              "  crosstalk simulate --drug tamoxifen=300 --drug everolimus=20 "
                              "--phenotype LTED --readout pS6,pAkt_S473 --hours 24 --out out/run2\n"
                              "  crosstalk simulate --param EGF=0 --readout ER_activity "
                              "--hours 72 --out out/run3\n\n"
                              "writes trajectory.csv (and .parquet), trajectory.png (with "
                              "--readout) and provenance.json\n\n" + EXIT_CODES)
    p.add_argument("--drug", action="append", metavar="NAME=NM",
                   help="drug at a constant concentration in nM (repeat for several)")
    p.add_argument("--phenotype", action="append", metavar="NAME",
                   help="tumour phenotype (repeat or comma-separate to combine)")
    p.add_argument("--param", action="append", metavar="ID=VALUE",
                   help="parameter override, kept during equilibration (repeatable)")
    p.add_argument("--readout", action="append", metavar="ID",
                   help="species or observable to report and plot (repeat or comma-separate); "
                        "default: all of them in the CSV, no plot")
    p.add_argument("--hours", type=float, default=72.0, help="length of the treatment")
    p.add_argument("--points", type=int, default=101, help="number of output times")
    p.add_argument("--no-equilibrate", action="store_true",
                   help="start from the model's initial values instead of the steady state")
    _common(p, out="out/simulate")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("dose-response", formatter_class=_Formatter,
                       help="one drug across doses, with a 4-parameter Hill fit",
                       epilog="examples:\n"
                              "  crosstalk dose-response --drug everolimus --doses "
                              "0.1,1,10,100 --readout pS6 --at 24 --out out/dr\n"
                              "  crosstalk dose-response --drug fulvestrant --doses "
                              "0.01,0.1,1,10,100 --readout growth_rate --at 72 --phenotype "
                              "ESR1_mutant --normalize inhibition --out out/dr_esr1\n\n"
                              "writes dose_response.csv (and .parquet), fit.json, "
                              "dose_response.png and provenance.json\n\n" + EXIT_CODES)
    p.add_argument("--drug", required=True, help="the drug whose dose varies")
    p.add_argument("--doses", required=True, metavar="D1,D2,...",
                   help="doses in nM (the control, 0, is always added)")
    p.add_argument("--readout", required=True, metavar="ID", help="species or observable")
    p.add_argument("--at", type=float, default=24.0, metavar="HOURS",
                   help="read out this many hours after the drug is added")
    p.add_argument("--phenotype", action="append", metavar="NAME", help="tumour phenotype")
    p.add_argument("--with", dest="with_drug", action="append", metavar="NAME=NM",
                   help="background drug given with every dose (repeatable)")
    p.add_argument("--normalize", choices=["none", "percent_of_control", "inhibition"],
                   default="none", help="what is fitted")
    _common(p, out="out/dose-response")
    p.set_defaults(func=cmd_dose_response)

    p = sub.add_parser("combination", formatter_class=_Formatter,
                       help="two-drug dose matrix with Bliss, Loewe, HSA and ZIP synergy",
                       epilog="examples:\n"
                              "  crosstalk combination --drug-a letrozole --doses-a 10,100 "
                              "--drug-b everolimus --doses-b 2,20 --readout growth_rate --at 72 "
                              "--phenotype LTED --out out/combo\n\n"
                              "writes combination.csv (and .parquet), synergy.json, "
                              "combination.png and provenance.json\n\n" + EXIT_CODES)
    p.add_argument("--drug-a", required=True)
    p.add_argument("--doses-a", required=True, metavar="D1,D2,...", help="nM")
    p.add_argument("--drug-b", required=True)
    p.add_argument("--doses-b", required=True, metavar="D1,D2,...", help="nM")
    p.add_argument("--readout", default="growth_rate", metavar="ID")
    p.add_argument("--at", type=float, default=72.0, metavar="HOURS")
    p.add_argument("--phenotype", action="append", metavar="NAME")
    _common(p, out="out/combination")
    p.set_defaults(func=cmd_combination)

    p = sub.add_parser("drugs", formatter_class=_Formatter, help="list the bundled drugs",
                       epilog="example:\n  crosstalk drugs\n\n" + EXIT_CODES)
    p.set_defaults(func=cmd_drugs)
    p = sub.add_parser("phenotypes", formatter_class=_Formatter,
                       help="list the bundled tumour phenotypes",
                       epilog="example:\n  crosstalk phenotypes\n\n" + EXIT_CODES)
    p.set_defaults(func=cmd_phenotypes)

    p = sub.add_parser("warmup", formatter_class=_Formatter,
                       help="compile and cache the integrator once (make does this at install)",
                       epilog="example:\n  crosstalk warmup\n\n" + EXIT_CODES)
    p.set_defaults(func=cmd_warmup)

    p = sub.add_parser("cache", formatter_class=_Formatter,
                       help="the size of the cache of compiled models, and pruning it",
                       description="Report the cache of generated code and stored symbolic "
                                   "results (its folder, size and limit: "
                                   "$CROSSTALK_CACHE_MAX_MB, default "
                                   f"{cache_limit.DEFAULT_MAX_MB} MB). Loads prune it to "
                                   "its limit, least recently used first; a removed entry "
                                   "only costs a rebuild. The integrator's numba cache is "
                                   "not touched.",
                       epilog="examples:\n  crosstalk cache\n  crosstalk cache --prune\n"
                              "  CROSSTALK_CACHE_MAX_MB=200 crosstalk cache --prune\n\n"
                              + EXIT_CODES)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--prune", action="store_true",
                      help="remove least recently used entries down to the limit now")
    what.add_argument("--clear", action="store_true", help="remove every entry")
    p.set_defaults(func=cmd_cache)

    p = sub.add_parser("atlas", formatter_class=_Formatter,
                       help="the resistance atlas: all behaviour checks and experiments",
                       description="Run the 15 behaviour checks on Crosstalk's own core and the "
                                   "studies in experiments/, and write index.html.",
                       epilog="examples:\n"
                              "  crosstalk atlas --out out/atlas\n"
                              "  crosstalk atlas --quick --out out/atlas-ci\n"
                              "  crosstalk atlas --only b03_everolimus_feedback --out out/a1\n"
                              "  crosstalk atlas --out out/atlas --images-to docs/images\n\n"
                              "exit code 1 when a behaviour is not reproduced or an experiment "
                              "fails (the page is written anyway)\n\n" + EXIT_CODES)
    p.add_argument("--quick", action="store_true", help="reduced grids (CI)")
    p.add_argument("--only", metavar="NAME,...",
                   help="run only these sections: behaviour ids (b03_everolimus_feedback) or "
                        "experiment names (combination_screen)")
    p.add_argument("--images-to", metavar="DIR",
                   help="also copy the figures there as atlas_<name>.png")
    p.add_argument("--out", default="out/atlas", metavar="DIR", help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_atlas)

    p = sub.add_parser("trial", formatter_class=_Formatter,
                       help="a virtual clinical trial from a trial TOML (docs/trials.md)",
                       description="Virtual patients at clinical doses through the mechanistic "
                                   "model, RECIST progression, Kaplan-Meier PFS and the Cox "
                                   "hazard ratio, next to the published results. The control "
                                   "arm's median PFS calibrates the population's doubling time; "
                                   "the other arms are predictions.",
                       epilog="examples:\n"
                              "  crosstalk trial simulator/models/trials/bolero2.toml "
                              "--patients 500 --seed 0 --out out/bolero2\n"
                              "  crosstalk trial my_trial.toml --patients 100 --out out/mine\n\n"
                              "writes patients.csv, km.png, summary.json and provenance.json; "
                              "a killed run resumes from DIR/store\n\n" + EXIT_CODES)
    p.add_argument("file", metavar="FILE.toml", help="the trial definition")
    p.add_argument("--patients", type=int, default=500, metavar="N", help="patients per arm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draws", type=int, default=8, metavar="K",
                   help="between-tumour parameter draws per cell state")
    p.add_argument("--executor", choices=["processes"], default=None,
                   help="run the cell states in a process pool (default: this process)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="use the population's doubling_days instead of fitting the control arm")
    p.add_argument("--threshold", type=float, default=None, metavar="THETA",
                   help="lesion mapping: relative proliferation below which a lesion shrinks, "
                        "in [0, 1); unset, the in-vivo mapping's 0 (cell loss follows "
                        "production; docs/trials.md)")
    p.add_argument("--apoptosis-weight", type=float, default=None, metavar="PSI",
                   help="lesion mapping: weight of the cell model's apoptosis above the "
                        "parental rate; unset, the in-vivo mapping's 0 (therapy raises no "
                        "apoptosis in patients)")
    p.add_argument("--no-store", action="store_true", help="no checkpoint in DIR/store")
    _common(p, out="out/trial")
    p.set_defaults(func=cmd_trial)

    p = sub.add_parser("sensitivity", formatter_class=_Formatter,
                       help="global sensitivity (Sobol' or Morris) of a readout",
                       epilog="examples:\n"
                              "  crosstalk sensitivity --readout growth_rate --phenotype LTED "
                              "--params all --n 1024 --out out/sens\n"
                              "  crosstalk sensitivity --readout pAkt_S473 --drug everolimus=20 "
                              "--params all --method morris --n 64 --out out/sens_morris\n\n"
                              "writes sensitivity.csv (ranked), sensitivity.png and "
                              "provenance.json\n\n" + EXIT_CODES)
    p.add_argument("--readout", required=True, metavar="ID")
    p.add_argument("--params", default="all", metavar="all|ID1,ID2,...",
                   help="parameters to vary")
    p.add_argument("--n", type=int, default=1024, help="base sample size")
    p.add_argument("--method", choices=["sobol", "morris"], default="sobol")
    p.add_argument("--phenotype", action="append", metavar="NAME")
    p.add_argument("--drug", action="append", metavar="NAME=NM")
    p.add_argument("--at", type=float, default=72.0, metavar="HOURS")
    p.add_argument("--seed", type=int, default=0)
    _common(p, out="out/sensitivity")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("lab", formatter_class=_Formatter,
                       help="the teaching lab: explorer and lessons in the browser",
                       description="Start the teaching lab, a local web page that simulates "
                                   "the bundled model as you change cells and drugs, with one "
                                   "lesson per resistance mechanism (docs/teaching.md). Serves "
                                   "on 127.0.0.1 only unless --host says otherwise; all of the "
                                   "page's files come from this machine.",
                       epilog="examples:\n"
                              "  crosstalk lab\n"
                              "  crosstalk lab --port 8080 --no-browser\n"
                              "  crosstalk lab --host 0.0.0.0   # reachable from the classroom "
                              "network\n\n" + EXIT_CODES)
    p.add_argument("--port", type=int, default=5006, help="TCP port (0: any free port)")
    p.add_argument("--host", default=LOCALHOST,
                   help="address to listen on; anything but 127.0.0.1 makes the lab reachable "
                        "from other machines")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("calibrate", formatter_class=_Formatter,
                       help="fit a PEtab problem: multistart optimisation (pyPESTO, fides)",
                       epilog="examples:\n"
                              "  crosstalk calibrate problem.yaml --starts 50 --seed 0 "
                              "--out out/fit\n"
                              "  crosstalk calibrate --example --starts 5 --out out/fit_example"
                              "\n"
                              "  crosstalk calibrate --example --starts 4 --executor dask "
                              "--sample 2000 --out out/fit_example\n"
                              "  crosstalk calibrate problem.yaml --scheduler "
                              "tcp://10.0.0.5:8786 --starts 200 --out out/fit\n\n"
                              "writes starts.tsv (one row per start, best first), "
                              "parameters_fitted.tsv (PEtab parameter table of the best fit), "
                              "waterfall.png, fit.png and provenance.json; with --profile "
                              "profiles.tsv, profile_intervals.tsv and profiles.png; with "
                              "--sample also "
                              "samples.tsv (the chain on the estimation scale, burn-in "
                              "flagged), trace.png and marginals.png. Finished starts "
                              "are kept in DIR/starts, so the same command resumes a killed "
                              "calibration\n\n" + EXIT_CODES)
    p.add_argument("problem", metavar="PROBLEM.yaml", nargs="?", help="PEtab v1 problem file")
    p.add_argument("--example", action="store_true",
                   help="the bundled model's example problem (synthetic everolimus / "
                        "alpelisib data, see docs/estimation.md)")
    p.add_argument("--starts", type=int, default=50, help="number of starts")
    p.add_argument("--seed", type=int, default=0, help="seed of the start points")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="fides",
                   help="fides: trust region with BFGS updates; fides-fim: the "
                        "same starting from the Fisher information; least_squares: scipy's "
                        "trust-region reflective on the residuals")
    p.add_argument("--max-iterations", type=int, default=1000, metavar="N")
    p.add_argument("--from-nominal", action="store_true",
                   help="start 0 at the parameter table's nominal values (the others are "
                        "drawn as usual)")
    p.add_argument("--reference", type=float, default=None, metavar="NLLH",
                   help="a known nllh to compare with (e.g. the best published for the "
                        "problem): drawn in the waterfall, and the starts within 0.1 of it "
                        "counted")
    p.add_argument("--executor", choices=["processes", "dask"], default=None,
                   help="run the starts in a process pool, or on a Dask cluster (a local one "
                        "of worker processes, or the one at --scheduler); default: this "
                        "process")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler (tcp://host:8786) for the "
                        "starts (implies --executor dask); its workers must see the problem "
                        "files at the same paths")
    p.add_argument("--sample", type=int, metavar="N",
                   help="then sample the posterior from the best fit: N MCMC steps "
                        "(pyPESTO), writing samples.tsv, trace.png and marginals.png")
    p.add_argument("--sampler", choices=list(SAMPLERS), default="adaptive_metropolis",
                   help="the pyPESTO sampler of --sample")
    p.add_argument("--burn-in", type=int, metavar="K",
                   help="drop the first K samples (default: Geweke's test)")
    p.add_argument("--profile", metavar="ID", action="append", default=[],
                   help="then profile this estimated parameter ('all': every one) around "
                        "the best fit (pyPESTO, on --executor), writing profiles.tsv, "
                        "profile_intervals.tsv (95%% intervals) and profiles.png; "
                        "repeatable")
    p.add_argument("--profile-optimizer", choices=["fides", "fides-fim"], default="fides-fim",
                   help="the optimizer that re-fits the other parameters at each profile "
                        "step (at most 200 iterations, or --max-iterations if fewer)")
    p.add_argument("--sbml", action="store_true",
                   help="also write model_fitted.xml, the SBML model with the fitted values")
    p.add_argument("--predict", metavar="HELD_OUT.yaml", action="append", default=[],
                   help="a PEtab problem with data not used in the fit that shares its "
                        "parameters (held-out conditions): predicted at the best fit, "
                        "scored in goodness_of_fit.tsv and drawn in "
                        "prediction_<name>.png; repeatable")
    p.add_argument("--no-store", action="store_true",
                   help="do not keep finished starts in DIR/starts")
    _common(p, model=False, out="out/fit")
    p.set_defaults(func=cmd_calibrate)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``crosstalk`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)   # exits with 2 on usage errors
    args.argv = argv
    try:
        return args.func(args)
    except CliError as err:
        print(f"crosstalk {args.command}: error: {err}", file=sys.stderr)
        return err.code
    except (sim.PerturbationError, sim.UnknownIdError, sim.InvalidValueError) as err:
        print(f"crosstalk {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except sim.IntegrationError as err:
        print(f"crosstalk {args.command}: integration error: {err}", file=sys.stderr)
        return EXIT_INTEGRATION
    except sim.ModelError as err:
        print(f"crosstalk {args.command}: model error: {err}", file=sys.stderr)
        return EXIT_MODEL
    except (sim.SimulatorError, ImportError) as err:   # a store in use, a missing extra
        print(f"crosstalk {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:      # the reader stopped reading (`crosstalk drugs | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
