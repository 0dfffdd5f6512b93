"""How load time grows with the model: a generated family of signalling cascades of 12 to
2,000 species, loaded never-compiled by our core and by libroadrunner in the same run
(`make bench-models`, after the shared corpus; or alone, below).

Each member is ``n`` copies of a two-tier phosphorylation motif (4 species, 4 Michaelis-
Menten reactions, 8 parameters of its own), the active kinase of copy ``i`` driving copy
``i + 1``, so every copy is coupled and simulated. Load is measured as in
:mod:`models` (fresh process, empty code cache, import excluded, ``load_model`` + first
``simulate``). The growth exponent is the slope of log(load) against log(reactions) over the
members from 100 reactions up, where the fixed start-up costs no longer dominate.

    .venv/bin/python benchmarks/model_family.py [--out out/bench-family.json]
        [--figure docs/images/load_scaling.png]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import antimony
import matplotlib
import numpy as np

import models

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend

COPIES = (3, 6, 12, 25, 50, 125, 250, 500)
END = 10.0


def cascade(copies: int) -> str:
    """Antimony text of ``copies`` coupled two-tier phosphorylation motifs."""
    lines = [f"model cascade_{copies}", "  S = 1"]
    for i in range(copies):
        kin = "S" if i == 0 else f"Xp{i - 1}"
        lines += [
            f"  a{i}: X{i} -> Xp{i}; ka{i}*{kin}*X{i}/(Ka{i} + X{i})",
            f"  d{i}: Xp{i} -> X{i}; kd{i}*Xp{i}/(Kd{i} + Xp{i})",
            f"  b{i}: Y{i} -> Yp{i}; kb{i}*Xp{i}*Y{i}/(Kb{i} + Y{i})",
            f"  e{i}: Yp{i} -> Y{i}; ke{i}*Yp{i}/(Ke{i} + Yp{i})",
            f"  X{i} = 1; Xp{i} = 0; Y{i} = 1; Yp{i} = 0",
            f"  ka{i} = {1.0 + 0.01 * i:g}; Ka{i} = 0.5; kd{i} = 0.8; Kd{i} = 0.3",
            f"  kb{i} = 1.2; Kb{i} = 0.5; ke{i} = 0.6; Ke{i} = 0.4",
        ]
    return "\n".join(lines + ["end", ""])


def write_family(folder: Path) -> list[tuple[int, Path]]:
    """The family as SBML files in ``folder``: ``(reactions, path)`` per member."""
    out = []
    for n in COPIES:
        antimony.clearPreviousLoads()
        if antimony.loadAntimonyString(cascade(n)) < 0:
            raise RuntimeError(antimony.getLastError())
        path = folder / f"cascade_{n}.xml"
        path.write_text(antimony.getSBMLString(f"cascade_{n}"))
        out.append((4 * n, path))
    return out


def exponent(reactions, seconds, from_reactions: int = 100) -> float | None:
    """The slope of log(seconds) on log(reactions), members with >= ``from_reactions``."""
    pts = [(r, s) for r, s in zip(reactions, seconds) if s and r >= from_reactions]
    if len(pts) < 2:
        return None
    r, s = np.log(np.array(pts, dtype=float)).T
    return float(np.polyfit(r, s, 1)[0])


def figure(rows: list[dict], path: Path) -> None:
    reactions = [r["reactions"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key, label, colour in (("first", "Crosstalk (never compiled)", "C0"),
                               ("cached", "Crosstalk (cached)", "C2"),
                               ("rr_first", "libroadrunner", "C3")):
        ys = [r[key] for r in rows]
        if any(ys):
            k = exponent(reactions, ys)
            ax.loglog(reactions, ys, "o-", color=colour,
                      label=label + (f", slope {k:.2f}" if k is not None else ""))
    ax.set_xlabel("reactions (species = reactions)")
    ax.set_ylabel("load + first simulation (s)")
    ax.set_title("Load time against model size: generated cascades")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=models.ROOT / "out" / "bench-family.json")
    ap.add_argument("--figure", type=Path, default=models.ROOT / "out" / "load_scaling.png")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'member':16s} {'reactions':>9s} {'load+first s':>12s} {'rr s':>7s} {'cached s':>9s} "
          f"{'sim ms':>8s} {'rr ms':>8s} {'err':>8s}")
    with tempfile.TemporaryDirectory() as folder:
        for reactions, path in write_family(Path(folder)):
            r = models.bench(path.stem, path, END)
            r["reactions"] = reactions
            rows.append(r)
            print(f"{path.stem:16s} {reactions:9d} {models.fmt(r['first']):>12s} "
                  f"{models.fmt(r['rr_first']):>7s} {models.fmt(r['cached']):>9s} "
                  f"{models.fmt(r['sim_ms']):>8s} {models.fmt(r['rr_sim_ms']):>8s} "
                  f"{models.fmt(r['err'], '{:.1e}'):>8s} {r['error'] or ''}", flush=True)
    reactions = [r["reactions"] for r in rows]
    for key, label in (("first", "ours, never compiled"), ("rr_first", "libroadrunner"),
                       ("cached", "ours, cached")):
        k = exponent(reactions, [r[key] for r in rows])
        print(f"growth exponent ({label}, from 100 reactions): "
              f"{'-' if k is None else f'{k:.2f}'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    figure(rows, args.figure)
    print(f"wrote {args.out} and {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
