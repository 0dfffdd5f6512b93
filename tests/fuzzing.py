"""A fuzzer of Crosstalk's inputs: mutated SBML, Antimony, catalogues and command lines.

Every input must end in a result or a :class:`simulator.SimulatorError` whose message names
what is wrong; never in another exception ("untyped"), a dead interpreter ("crashed") or a
case running past its timeout ("hung"). Cases run in worker subprocesses, so a crash costs
one case, not the run: a worker announces each case before it starts it, and when a worker
dies or stops answering, the parent records that case and starts a new worker for the rest.

    python -m tests.fuzzing --cases 10000 --seed 0 --workers 2      # make fuzz

Inputs are deterministic in the seed. The mutators: deleted and duplicated XML elements,
junk attribute values (NaN, inf, negative, empty, unknown references, huge), truncation,
byte flips, deep nesting, garbled Antimony lines, mutated catalogue TOML, bad command-line
arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("sbml", "antimony", "catalog", "cli")

TOYS = {
    "decay": "model decay\n  compartment c = 2\n  A in c; B in c\n  A = 3; B = 0\n"
             "  k = 0.3\n  J: A -> B; k*A\nend\n",
    "events": "model ev\n  A = 1; k = 0.5\n  J: A -> ; k*A\n  E1: at time > 2: A = A + 1\n"
              "  E2: at A < 0.5, t0=false: k = k/2\nend\n",
    "rules": "model rules\n  compartment c = 1\n  S in c\n  S = 1\n  p := 2*S + 1\n"
             "  q' = -q + S\n  q = 0\n  J: S -> ; S/(1 + p)\nend\n",
    "functions": "function hill(x, K, n)\n  x^n/(K^n + x^n)\nend\nmodel fn\n"
                 "  X = 0.1; L = 2\n  J: -> X; hill(L, 1, 2) - X\nend\n",
    "piecewise": "model pw\n  A = 1\n  J: -> A; piecewise(1, time < 3, -A)\nend\n",
}
JUNK = ["NaN", "nan", "INF", "-inf", "-1", "0", "", " ", "abc", "1e400", "-1e-400", "true",
        "x y", "unknown_id", "<", "&amp;", "9" * 400, "1.5.2", "0x10", "\u00e9\u00e8"]
ANTIMONY_NOISE = ["(", ")", ";", "->", "=", ":=", "'", "*", "+", "/", "^", "$", "@", "at",
                  "end", "model", "function", "compartment", "in", "var", "const", "NaN",
                  "1e999", "-", ",", ":", "\"", "//", "import", "species", "x", "0"]


# ---------------------------------------------------------------------------- inputs

def seeds(extra_sbml: list[Path] | None = None) -> dict:
    """The unmutated inputs, by kind."""
    models = ROOT / "simulator" / "models"
    sbml = [(models / "er_crosstalk.xml").read_text()]
    sbml += [_antimony_sbml(t) for t in TOYS.values()]
    sbml += [p.read_text(errors="replace") for p in (extra_sbml or [])]
    return {"sbml": sbml, "antimony": [(models / "er_crosstalk.ant").read_text(),
                                        *TOYS.values()],
            "catalog": [(models / "er_crosstalk.toml").read_text()],
            "drugs": (models / "drugs.toml").read_text(),
            "phenotypes": (models / "phenotypes.toml").read_text()}


def _antimony_sbml(text: str) -> str:
    import simulator as sim          # the parent needs SBML of the toys once
    return sim.load_model(text).sbml


_TAG = re.compile(r"<(\w[\w:.-]*)([^<>]*?)(/?)>")
_ATTR = re.compile(r'(\w[\w:.-]*)="([^"]*)"')


def _elements(text: str) -> list[tuple[int, int]]:
    """(start, end) of well-nested elements, found with a tag stack (no recursion)."""
    spans, stack = [], []
    for m in re.finditer(r"<(/?)(\w[\w:.-]*)[^<>]*?(/?)>", text):
        if m.group(1):
            while stack and stack[-1][0] != m.group(2):
                stack.pop()
            if stack:
                name, start = stack.pop()
                spans.append((start, m.end()))
        elif m.group(3):
            spans.append((m.start(), m.end()))
        else:
            stack.append((m.group(2), m.start()))
    return spans


def mutate_sbml(text: str, rng: random.Random) -> str:
    """One to three XML mutations."""
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["delete", "duplicate", "attribute", "attribute", "truncate", "flip",
                         "nest", "swap", "value"])
        spans = _elements(text)
        if op in ("delete", "duplicate") and spans:
            a, b = rng.choice(spans)
            text = text[:a] + text[b:] if op == "delete" else text[:b] + text[a:b] + text[b:]
        elif op == "attribute":
            attrs = list(_ATTR.finditer(text))
            if attrs:
                m = rng.choice(attrs)
                text = text[:m.start(2)] + rng.choice(JUNK) + text[m.end(2):]
        elif op == "value":
            nums = list(re.finditer(r"<cn[^>]*>([^<]*)</cn>", text))
            if nums:
                m = rng.choice(nums)
                text = text[:m.start(1)] + rng.choice(JUNK) + text[m.end(1):]
        elif op == "truncate":
            text = text[:rng.randrange(len(text) + 1)]
        elif op == "flip":
            data = bytearray(text.encode("utf-8", "replace"))
            for _ in range(rng.randint(1, 8)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            text = data.decode("utf-8", "replace")
        elif op == "nest":
            m = list(re.finditer(r"<math[^>]*>", text))
            if m:
                at = rng.choice(m).end()
                depth = rng.choice([5, 60, 99, 150, 3000])
                wrap = rng.choice(["<apply><sin/>", "<apply><minus/>", "<apply><abs/>"])
                end = text.find("</math>", at)
                if end > 0:
                    text = text[:at] + wrap * depth + text[at:end] + "</apply>" * depth + \
                        text[end:]
        elif op == "swap":
            tags = list(_TAG.finditer(text))
            if len(tags) > 2:
                m, n = rng.sample(tags, 2)
                text = text[:m.start(1)] + n.group(1) + text[m.end(1):] if m.start() < n.start() \
                    else text
    return text


def mutate_antimony(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        op = rng.choice(["garble", "delete", "duplicate", "insert", "deep", "number"])
        if op == "garble":
            words = lines[i].split()
            for _ in range(rng.randint(1, 3)):
                words.insert(rng.randint(0, len(words)), rng.choice(ANTIMONY_NOISE))
            if words and rng.random() < 0.5:
                del words[rng.randrange(len(words))]
            lines[i] = " ".join(words)
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, f"  {rng.choice(['x', 'k', 'A', 'E9'])} "
                            f"{rng.choice(['=', ':=', '->', ':'])} {rng.choice(JUNK)}")
        elif op == "deep":
            n = rng.choice([10, 150, 250])
            lines.insert(i, "  zz := " + "(" * n + "1" + ")" * n)
        else:
            lines[i] = re.sub(r"\d+(\.\d+)?", lambda m: rng.choice(JUNK) or "0", lines[i], 1)
    return "\n".join(lines) + "\n"


def mutate_toml(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines)) if lines else 0
        op = rng.choice(["value", "delete", "junk", "key"])
        if op == "value" and lines and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = key + "= " + rng.choice(['"x"', "[]", "{}", "-1", "nan", "inf", "[1, 2]",
                                                '{ set = "a" }', "{ scale = nan }", "true",
                                                '"missing.toml"', '["nope"]', "[[[[1]]]]"])
        elif op == "delete" and lines:
            del lines[i]
        elif op == "junk":
            lines.insert(i, rng.choice(["[", "x = ", "= 1", "[a.b", '"', "[[x]]", "a = 1",
                                        "phenotypes = 3", "drugs = { x = 1 }"]))
        elif op == "key" and lines:
            lines[i] = lines[i].replace("=", f"_{rng.randrange(9)} =", 1)
    return "\n".join(lines) + "\n"


CLI_WORDS = ["simulate", "dose-response", "combination", "drugs", "phenotypes", "sensitivity",
             "atlas", "--drug", "--doses", "--readout", "--hours", "--points", "--param",
             "--phenotype", "--at", "--normalize", "--model", "--catalog", "--with",
             "--drug-a", "--doses-a", "--drug-b", "--doses-b", "--n", "--method", "--only",
             "letrozole=10", "letrozol=1", "everolimus", "pS6", "growth_rate", "nope", "-3",
             "0", "1e400", "nan", "1,2,x", "", "=", "HER2_amplified", "EGF=-1", "x=1",
             "--quiet", "--no-equilibrate", "1", "100000", "--version", "-h", "calibrate",
             "--starts", "--optimizer", "problem.yaml"]


def mutate_cli(rng: random.Random) -> list[str]:
    argv = [rng.choice(["simulate", "dose-response", "combination", "drugs", "sensitivity"])]
    argv += [rng.choice(CLI_WORDS) for _ in range(rng.randint(0, 7))]
    return argv


def cases(n: int, seed: int, extra_sbml=None) -> list[dict]:
    """``n`` deterministic cases, round-robin over the kinds."""
    base = seeds(extra_sbml)
    out = []
    for i in range(n):
        rng = random.Random(f"{seed}-{i}")
        kind = KINDS[i % len(KINDS)]
        case = {"id": i, "kind": kind}
        if kind == "sbml":
            case["text"] = mutate_sbml(rng.choice(base["sbml"]), rng)
            case["backend"] = "compiled" if i % 8 == 0 else "scipy"
        elif kind == "antimony":
            case["text"] = mutate_antimony(rng.choice(base["antimony"]), rng)
            case["backend"] = "scipy"
        elif kind == "catalog":
            target = rng.choice(["catalog", "drugs", "phenotypes"])
            case["files"] = {k: base[k] if k != "catalog" else base["catalog"][0]
                             for k in ("catalog", "drugs", "phenotypes")}
            case["files"][target] = mutate_toml(case["files"][target], rng)
        else:
            case["argv"] = mutate_cli(rng)
        out.append(case)
    return out


# ---------------------------------------------------------------------------- one case

def run_case(case: dict, workdir: Path) -> str:
    """Run one case in this process: ``"ok"`` or ``"typed"``; anything else raises."""
    import numpy as np

    import simulator as sim
    from simulator import cli, conditions
    kind = case["kind"]
    if kind == "selftest":          # the harness's own test: findings must be found
        if case["action"] == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        if case["action"] == "hang":
            time.sleep(3600)
        raise KeyError("an untyped error")
    try:
        if kind in ("sbml", "antimony"):
            model = sim.load_model(case["text"])
            opts = sim.SolverOptions(max_steps=20_000)
            sim.simulate(model, np.array([0.0, 1.0, 5.0]), backend=case["backend"],
                         options=opts, on_failure="return")
        elif kind == "catalog":
            for name, text in case["files"].items():
                (workdir / f"{name}.toml").write_text(text)
            model = sim.load_model(catalog=workdir / "catalog.toml")
            if model.catalog.phenotypes:
                conditions.phenotype_overrides(model, list(model.catalog.phenotypes)[:2])
            for d in list(model.catalog.drugs)[:2]:
                sim.PK.for_drug(d, model.catalog)
        else:
            code = cli.main([*case["argv"], *(["--out", str(workdir / "cli")]
                                              if case["argv"][0] not in ("drugs", "phenotypes")
                                              else [])])
            if code not in (0, 1, 2, 3, 4):
                raise AssertionError(f"exit code {code}")
        return "ok"
    except sim.SimulatorError as err:
        if not str(err).strip():
            raise AssertionError(f"{type(err).__name__} with an empty message") from err
        return "typed"
    except SystemExit as err:          # argparse's usage errors and --help/--version
        if err.code not in (0, 2):
            raise AssertionError(f"SystemExit({err.code!r})") from err
        return "typed" if err.code else "ok"


def worker(timeout: float) -> None:
    """Read cases (JSON lines) from stdin; report ``start`` and ``done`` lines on stdout."""
    import warnings
    warnings.simplefilter("ignore")
    import simulator  # noqa: F401  (imported before the first case's clock starts)
    from simulator import cli  # noqa: F401

    def alarm(signum, frame):
        raise TimeoutError("case timed out")
    signal.signal(signal.SIGALRM, alarm)
    # the protocol gets the real stdout; whatever a case prints (the CLI, C libraries) goes
    # to /dev/null
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")
    with tempfile.TemporaryDirectory() as tmp:
        for line in sys.stdin:
            case = json.loads(line)
            print(json.dumps({"start": case["id"]}), file=proto, flush=True)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                outcome, detail = run_case(case, Path(tmp)), ""
            except TimeoutError:
                outcome, detail = "hung", f"over {timeout:g} s"
            except BaseException as err:    # the finding: anything not typed
                outcome, detail = "untyped", f"{type(err).__name__}: {err}"[:500]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            print(json.dumps({"done": case["id"], "outcome": outcome, "detail": detail}),
                  file=proto, flush=True)


# ---------------------------------------------------------------------------- the campaign

@dataclass
class Report:
    counts: Counter
    findings: list          # (case, outcome, detail) of untyped, crashed and hung cases
    seconds: float

    def line(self) -> str:
        c = self.counts
        return (f"{sum(c.values())} inputs: {c['ok']} ok, {c['typed']} typed, "
                f"{c['untyped']} untyped, {c['crashed']} crashed, {c['hung']} hung "
                f"({self.seconds:.0f} s)")


class _Worker:
    def __init__(self, timeout: float):
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONFAULTHANDLER="")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzzing", "--worker", "--timeout", str(timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=ROOT, env=env)
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.case = None
        self.since = 0.0

    def lines(self):
        """The complete lines the worker wrote since the last call ([] and None at EOF)."""
        data = os.read(self.fd, 1 << 16)
        if not data:
            return None
        self.buffer += data
        *done, self.buffer = self.buffer.split(b"\n")
        return [json.loads(d) for d in done if d.strip()]

    def send(self, case: dict) -> None:
        self.case, self.since = case, time.monotonic()
        self.proc.stdin.write(json.dumps(case).encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def campaign(todo: list[dict], *, workers: int = 2, timeout: float = 30.0,
             progress: bool = False) -> Report:
    """Run ``todo`` on ``workers`` subprocesses; see the module docstring."""
    t_start = time.monotonic()
    counts, findings = Counter(), []
    queue = list(reversed(todo))
    pool = [_Worker(timeout) for _ in range(min(workers, len(todo)))]
    for w in pool:
        if queue:
            w.send(queue.pop())
    # a case may take its timeout plus the worker's start (imports, first compile)
    grace = timeout + 120.0
    while any(w.case is not None for w in pool):
        busy = {w.fd: w for w in pool if w.case is not None}
        ready, _, _ = select.select(list(busy), [], [], 1.0)
        for fd in ready:
            w = busy[fd]
            msgs = w.lines()
            if msgs is None:                               # the worker died
                counts["crashed"] += 1
                findings.append((w.case, "crashed", f"exit code {w.proc.wait()}"))
                pool[pool.index(w)] = w = _Worker(timeout)
                _next(w, queue)
                continue
            for msg in msgs:
                if "done" not in msg:
                    continue
                counts[msg["outcome"]] += 1
                if msg["outcome"] not in ("ok", "typed"):
                    findings.append((w.case, msg["outcome"], msg["detail"]))
                _next(w, queue)
                if progress and sum(counts.values()) % 100 == 0:
                    print(f"  {sum(counts.values())} / {len(todo)}", file=sys.stderr)
        now = time.monotonic()
        for i, w in enumerate(pool):
            if w.case is not None and now - w.since > grace:   # stuck in native code
                counts["hung"] += 1
                findings.append((w.case, "hung", f"no answer in {grace:g} s"))
                w.kill()
                pool[i] = _Worker(timeout)
                _next(pool[i], queue)
    for w in pool:
        w.proc.stdin.close()
        w.kill()
    return Report(counts, findings, time.monotonic() - t_start)


def _next(w: _Worker, queue: list) -> None:
    w.case = None
    if queue:
        w.send(queue.pop())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzzing", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per case")
    ap.add_argument("--suite", type=Path, default=None,
                    help="also mutate the SBML Test Suite cases in this folder")
    ap.add_argument("--out", type=Path, default=Path("out/fuzz.jsonl"),
                    help="the findings, one JSON line each")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.timeout)
        return 0
    extra = sorted(a.suite.glob("*/*-sbml-l3v2.xml"))[:300] if a.suite else None
    report = campaign(cases(a.cases, a.seed, extra), workers=a.workers, timeout=a.timeout,
                      progress=sys.stderr.isatty())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w") as fh:
        for case, outcome, detail in report.findings:
            fh.write(json.dumps({"outcome": outcome, "detail": detail, "case": case}) + "\n")
    print(report.line())
    bad = report.counts["untyped"] + report.counts["crashed"] + report.counts["hung"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
