"""Plots of results: each function takes a result and an optional ``ax`` and returns the Axes.

matplotlib only. Nothing here computes results; pass what the verbs return::

    sim.plot.trajectories(traj, ["pAkt_S473", "pS6"])
    sim.plot.conditions({"untreated": t0, "everolimus": t1}, "pAkt_S473")
    sim.plot.dose_response(dr)
    sim.plot.synergy_map(combo, "bliss"); sim.plot.isobologram(combo, level=50)
    sim.plot.network(model, treated_traj, reference=untreated_ss)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from simulator.analysis.hill import hill
from simulator.conditions import drug_names
from simulator.errors import InvalidValueError, unknown_id
from simulator.model import AssignmentRule
from simulator.results import SteadyState, Trajectory

__all__ = ["trajectories", "conditions", "dose_response", "synergy_map", "isobologram",
           "network", "network_edges", "pyplot"]


def pyplot(*, headless: bool = False):
    """matplotlib's pyplot, imported on first use (it is heavy); ``headless`` selects the
    Agg backend first (files, no window: the CLI and the atlas)."""
    import matplotlib
    if headless:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize)
    return ax


def _ids(ids) -> list[str]:
    if isinstance(ids, str):
        return [ids]
    out = list(ids)
    if not out:
        raise InvalidValueError("give at least one id to plot")
    return out


# ======================================================================== time courses

def trajectories(traj, ids, ax=None, labels=None, *, time_unit: str = "h"):
    """Plot ``ids`` over time for one trajectory or a list of them.

    Parameters
    ----------
    traj : Trajectory or sequence of Trajectory
    ids : str or sequence of str
        Species or observable ids.
    ax : matplotlib Axes, optional
    labels : sequence of str, optional
        One per trajectory (used in the legend).
    time_unit : str
        Axis label of time.

    Returns
    -------
    matplotlib.axes.Axes
    """
    trajs = [traj] if not isinstance(traj, (list, tuple)) else list(traj)
    ids = _ids(ids)
    if labels is not None and len(labels) != len(trajs):
        raise InvalidValueError(f"got {len(labels)} labels for {len(trajs)} trajectories")
    for tr in trajs:
        for i in ids:
            if i not in tr:
                raise unknown_id("readout", i, tr.ids, model=tr.model_id)
    ax = _axes(ax)
    for k, tr in enumerate(trajs):
        for i in ids:
            parts = [labels[k]] if labels is not None else []
            if len(ids) > 1 or not parts:
                parts.append(i)
            ax.plot(tr.t, tr[i], label=" · ".join(parts),
                    ls="-" if tr.success else ":")
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel(ids[0] if len(ids) == 1 else "value")
    if len(trajs) * len(ids) > 1 or labels is not None:
        ax.legend(fontsize="small", frameon=False)
    return ax


def conditions(trajs: Mapping, id: str, ax=None, *, kind: str = "line",
               at_time: float | None = None, time_unit: str = "h"):
    """Compare one readout across conditions (label -> Trajectory).

    ``kind="line"`` overlays the time courses; ``kind="bar"`` puts the value at
    ``at_time`` (default: the last time) side by side.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(trajs, Mapping) or not trajs:
        raise InvalidValueError("conditions takes a non-empty mapping of label -> Trajectory")
    if kind not in ("line", "bar"):
        raise InvalidValueError(f"kind must be 'line' or 'bar', got {kind!r}")
    for tr in trajs.values():
        if id not in tr:
            raise unknown_id("readout", id, tr.ids, model=tr.model_id)
    ax = _axes(ax)
    if kind == "line":
        for label, tr in trajs.items():
            ax.plot(tr.t, tr[id], label=str(label), ls="-" if tr.success else ":")
        ax.set_xlabel(f"time ({time_unit})")
        ax.legend(fontsize="small", frameon=False)
    else:
        vals = []
        for tr in trajs.values():
            k = -1 if at_time is None else int(np.argmin(np.abs(tr.t - at_time)))
            vals.append(tr[id][k])
        x = np.arange(len(vals))
        ax.bar(x, vals, color=[f"C{i % 10}" for i in x])
        ax.set_xticks(x, [str(k) for k in trajs], rotation=30, ha="right")
        when = "end" if at_time is None else f"{at_time:g} {time_unit}"
        ax.set_title(f"{id} at {when}", fontsize="medium")
    ax.set_ylabel(id)
    return ax


# ======================================================================== dose-response

def dose_response(dr, ax=None, *, show_fit: bool = True, label: str | None = None, color=None):
    """Dose-response points (failed doses marked) and the fitted Hill curve.

    Dose 0 (the control) is drawn at the left edge of the log axis, labelled ``0``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    doses, resp, ok = np.asarray(dr.doses), np.asarray(dr.response), np.asarray(dr.success)
    pos = doses[doses > 0]
    lo = pos.min() / 10.0 if pos.size else 1.0
    hi = pos.max() if pos.size else 10.0
    x = np.where(doses > 0, doses, lo)
    color = color or "C0"
    name = label or dr.drug
    ax.plot(x[ok], resp[ok], "o", color=color, label=name)
    if (~ok).any():
        import matplotlib.transforms as mtrans
        tr = mtrans.blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(x[~ok], np.full((~ok).sum(), 0.03), "x", color="crimson", ms=9, mew=2,
                transform=tr, label="failed run", clip_on=False)
    fit = dr.fit
    if show_fit and fit is not None and fit.converged and pos.size:
        xs = np.logspace(np.log10(pos.min()) - 0.3, np.log10(hi) + 0.3, 200)
        ax.plot(xs, hill(xs, fit.bottom, fit.top, fit.ic50, fit.slope), "-", color=color, lw=1.5)
        if np.isfinite(fit.ic50):
            ax.axvline(fit.ic50, color=color, ls="--", lw=0.8)
            ax.annotate(f"IC50 {fit.ic50:.3g} {dr.unit}", (fit.ic50, 0.95),
                        xycoords=("data", "axes fraction"), fontsize="small", color=color,
                        ha="left", va="top", xytext=(3, 0), textcoords="offset points")
    _dose_axes(ax, dr, lo, hi)
    if dr.phenotype:
        ax.set_title(", ".join(dr.phenotype), fontsize="medium")
    ax.legend(fontsize="small", frameon=False)
    return ax


def _dose_axes(ax, dr, lo: float, hi: float) -> None:
    """Log dose axis from ``lo`` (where dose 0 is drawn, labelled ``0``) to ``hi``, and the
    labels of the DoseResponse ``dr``'s drug, readout, normalisation and time."""
    ax.set_xscale("log")
    ticks = [t for t in ax.get_xticks() if lo * 3 <= t <= hi * 10]
    ax.set_xticks([lo, *ticks], ["0", *[f"{t:g}" for t in ticks]])
    ax.set_xlim(lo / 2, hi * 2.5)
    ax.set_xlabel(f"{dr.drug} ({dr.unit})")
    ylabel = {"none": dr.readout, "percent_of_control": f"{dr.readout} (% of control)",
              "inhibition": f"{dr.readout} (% inhibition)"}[dr.normalize]
    when = f"{dr.at_time:g} h" if dr.at_time is not None else f"{dr.window[0]:g}-{dr.window[1]:g} h"
    ax.set_ylabel(f"{ylabel}, {when}")


def dose_response_band(edr, ax=None, *, label: str | None = None, color=None):
    """An ensemble's dose response: the members' median and their central 95 % band (the
    prediction band of a calibrated ensemble), dose 0 at the left edge as in
    :func:`dose_response`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    first = next(m for m in edr.members if m is not None)
    band = edr.band((0.025, 0.5, 0.975))
    doses = band.index.to_numpy(dtype=float)
    pos = doses[doses > 0]
    lo = pos.min() / 10.0 if pos.size else 1.0
    hi = pos.max() if pos.size else 10.0
    x = np.where(doses > 0, doses, lo)
    color = color or "C0"
    n = sum(m is not None for m in edr.members)
    ax.fill_between(x, band[0.025], band[0.975], color=color, alpha=0.25, lw=0,
                    label=f"central 95 % of {n} members")
    ax.plot(x, band[0.5], "o-", color=color, label=label or f"{first.drug}, median")
    _dose_axes(ax, first, lo, hi)
    ax.legend(fontsize="small", frameon=False)
    return ax


# ======================================================================== combinations

_METHOD_NAMES = {"bliss": "Bliss", "loewe": "Loewe", "hsa": "HSA", "zip": "ZIP"}


def _result(combo, method):
    res = combo.results.get(method)
    if res is None:
        why = "; ".join(n for n in combo.notes if n.startswith(method)) or "not requested"
        raise InvalidValueError(f"synergy method '{method}' is not available for this "
                                f"combination ({why})")
    return res


def synergy_map(combo, method: str = "bliss", ax=None, *, third: int = -1,
                annotate: bool = True, vmax: float | None = None):
    """Heatmap of a synergy model's excess over the dose matrix (red: synergy).

    Parameters
    ----------
    combo : Combination
    method : {"bliss", "loewe", "hsa", "zip"}
    third : int
        For three drugs: index of the third drug's dose shown (default its highest).
    vmax : float, optional
        Colour range ±vmax (default: the largest |excess|, at least 10).

    Returns
    -------
    matplotlib.axes.Axes
    """
    res = _result(combo, method)
    mat = res.matrix
    failed = np.asarray(combo.failed)
    if mat.ndim == 3:
        mat, failed = mat[:, :, third], failed[:, :, third]
    ax = _axes(ax, (5.5, 4.5))
    data = np.ma.MaskedArray(np.asarray(mat.filled(0.0)), mask=np.ma.getmaskarray(mat))
    vmax = vmax or max(10.0, float(np.abs(data).max()) if data.count() else 10.0)
    plt = pyplot()
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#bdbdbd")
    im = ax.imshow(data.T, origin="lower", cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    a, b = combo.doses[0], combo.doses[1]
    ax.set_xticks(range(a.size), [f"{v:g}" for v in a], rotation=45)
    ax.set_yticks(range(b.size), [f"{v:g}" for v in b])
    ax.set_xlabel(f"{combo.drugs[0]} ({combo.units[0]})")
    ax.set_ylabel(f"{combo.drugs[1]} ({combo.units[1]})")
    if annotate:
        for i in range(a.size):
            for j in range(b.size):
                if failed[i, j]:
                    ax.text(i, j, "failed", ha="center", va="center", fontsize=7, color="crimson")
                elif data.mask[i, j]:
                    ax.text(i, j, "n/a", ha="center", va="center", fontsize=7, color="#555555")
                elif i and j:
                    dark = abs(data[i, j]) > 0.6 * vmax
                    ax.text(i, j, f"{data[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
    ax.figure.colorbar(im, ax=ax, label=f"{method} excess (% points)")
    extra = ""
    if len(combo.drugs) == 3:
        extra = f", {combo.drugs[2]} = {combo.doses[2][third]:g} {combo.units[2]}"
    ax.set_title(f"{_METHOD_NAMES.get(method, method)} on {combo.readout}: "
                 f"score {res.score:.1f}{extra}", fontsize="medium")
    return ax


def _crossing(x, y, level):
    """First dose where the (masked) curve y(x) crosses ``level``; NaN if none."""
    for k in range(len(x) - 1):
        y0, y1 = y[k], y[k + 1]
        if np.ma.is_masked(y0) or np.ma.is_masked(y1):
            continue
        if (y0 - level) * (y1 - level) <= 0 and y1 != y0:
            if y0 == level:
                return float(x[k])
            if x[k] > 0:  # interpolate on log dose
                f = (level - y0) / (y1 - y0)
                return float(np.exp(np.log(x[k]) + f * (np.log(x[k + 1]) - np.log(x[k]))))
            return float(x[k] + (level - y0) / (y1 - y0) * (x[k + 1] - x[k]))
    return float("nan")


def isobologram(combo, ax=None, level: float = 50.0):
    """Isobologram: dose pairs that reach ``level`` % inhibition, with the Loewe line.

    Points below the straight line joining the single-drug doses (additivity) mean
    synergy, above it antagonism. Single-drug doses that the tested range does not reach
    come from the monotherapy Hill fits when available.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if len(combo.drugs) != 2:
        raise InvalidValueError(f"an isobologram needs two drugs; this combination has {len(combo.drugs)}")
    if not 0 < level < 100:
        raise InvalidValueError(f"level must be a % inhibition between 0 and 100, got {level}")
    R = combo.response
    a, b = combo.doses
    pts = set()
    for j in range(b.size):
        x = _crossing(a, R[:, j], level)
        if np.isfinite(x):
            pts.add((x, float(b[j])))
    for i in range(a.size):
        y = _crossing(b, R[i, :], level)
        if np.isfinite(y):
            pts.add((float(a[i]), y))
    ax = _axes(ax, (5.0, 4.5))
    mono = [_mono_dose(combo, axis, level) for axis in (0, 1)]
    if all(np.isfinite(mono)):
        ax.plot([mono[0], 0], [0, mono[1]], "k--", lw=1, label="Loewe additivity")
    if pts:
        P = np.array(sorted(pts, key=lambda p: (p[1], -p[0])))
        ax.plot(P[:, 0], P[:, 1], "o-", color="C3", label=f"observed {level:g}% inhibition")
    else:
        ax.text(0.5, 0.5, f"{level:g}% inhibition not reached", transform=ax.transAxes,
                ha="center", va="center")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"{combo.drugs[0]} ({combo.units[0]})")
    ax.set_ylabel(f"{combo.drugs[1]} ({combo.units[1]})")
    ax.set_title(f"isobologram, {level:g}% inhibition of {combo.readout}", fontsize="medium")
    ax.legend(fontsize="small", frameon=False)
    return ax


def _mono_dose(combo, axis, level):
    edge = combo.response[:, 0] if axis == 0 else combo.response[0, :]
    x = _crossing(combo.doses[axis], edge, level)
    if np.isfinite(x):
        return x
    fits = combo.scores.mono_fits if combo.scores is not None else ()
    if len(fits) > axis:
        f = fits[axis]
        lo, hi = sorted((f.bottom, f.top))
        if f.converged and lo < level < hi and f.slope != 0:
            return float(f.ic50 * ((level - f.bottom) / (f.top - level)) ** (1.0 / f.slope))
    return float("nan")


# ======================================================================== network

def _names(expr) -> set[str]:
    return {s.name for s in getattr(expr, "free_symbols", ())}


def network_edges(model):
    """Conversion and influence edges between species (and drugs) of ``model``.

    Returns
    -------
    conversions : set of (str, str)
        Reactant -> product of a reaction.
    influences : set of (str, str)
        A species (or parameter-drug) in a reaction's rate law, directly or through
        assignment rules, -> the reaction's products (its reactants if it has none).
    """
    species = set(model.species_ids)
    params = set(model.parameter_ids)
    rules = {r.variable: r.math for r in model.rules if isinstance(r, AssignmentRule) and r.math is not None}
    cache: dict[str, set] = {}

    def expand(names, seen):
        out = set()
        for n in names:
            if n in species or n in params and n not in rules:
                out.add(n)
            elif n in rules and n not in seen:
                if n not in cache:
                    cache[n] = expand(_names(rules[n]), seen | {n})
                out |= cache[n]
        return out

    conv, infl = set(), set()
    for rx in model.reactions:
        reac = [r.species for r in rx.reactants]
        prod = [p.species for p in rx.products]
        for x in reac:
            for y in prod:
                if x != y:
                    conv.add((x, y))
        names = expand(_names(rx.rate) | set(rx.modifiers), frozenset()) if rx.rate is not None else set()
        for m in names - set(reac) - set(prod):
            for y in (prod or reac):
                if m != y:
                    infl.add((m, y))
    for r in model.rules:  # rate rules act on their variable like a reaction
        if not isinstance(r, AssignmentRule) and getattr(r, "variable", None) in species and r.math is not None:
            for m in expand(_names(r.math), frozenset()) - {r.variable}:
                infl.add((m, r.variable))
    return conv, infl


def _layout(nodes, conversions, influences, max_per_row: int = 7):
    """Clustered layered layout, deterministic.

    Species linked by conversions (the forms of one protein) form a cluster, drawn as a
    vertical stack in conversion order. Clusters are ranked by breadth-first distance
    along influence edges from the clusters nothing acts on, placed side by side in their
    rank (ordered by the barycentre of their neighbours), wrapping wide ranks.
    """
    idx = {n: i for i, n in enumerate(nodes)}
    parent = {n: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for a, b in conversions:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb, key=idx.get)] = min(ra, rb, key=idx.get)
    clusters: dict[str, list] = {}
    for n in nodes:
        clusters.setdefault(find(n), []).append(n)
    succ_n = {n: [] for n in nodes}
    for a, b in conversions:
        succ_n[a].append(b)
    for root, members in clusters.items():  # order members along conversions (BFS)
        seen, order, queue = set(), [], [members[0]]
        indeg = {m: 0 for m in members}
        for a, b in conversions:
            if a in indeg and b in indeg:
                indeg[b] += 1
        queue = sorted(members, key=lambda m: (indeg[m] > 0, idx[m]))[:1]
        while queue or len(order) < len(members):
            if not queue:
                queue = [next(m for m in members if m not in seen)]
            m = queue.pop(0)
            if m in seen:
                continue
            seen.add(m)
            order.append(m)
            queue.extend(sorted((x for x in succ_n[m] if x in indeg and x not in seen), key=idx.get))
        clusters[root] = order
    cid = {n: find(n) for n in nodes}
    csucc = {c: set() for c in clusters}
    cin = {c: 0 for c in clusters}
    for a, b in influences:
        ca, cb = cid.get(a), cid.get(b)
        if ca is not None and cb is not None and ca != cb and cb not in csucc[ca]:
            csucc[ca].add(cb)
            cin[cb] += 1
    rank: dict[str, int] = {}
    pending = sorted(clusters, key=lambda c: (cin[c], idx[c]))
    base = 0
    while len(rank) < len(clusters):
        sources = [c for c in pending if c not in rank and cin[c] == 0] or \
            [next(c for c in pending if c not in rank)]
        queue = []
        for c in sources:
            rank[c] = base
            queue.append(c)
        while queue:
            c = queue.pop(0)
            for d in sorted(csucc[c], key=idx.get):
                if d not in rank:
                    rank[d] = rank[c] + 1
                    queue.append(d)
        base = max(rank.values()) + 1
        for c in pending:
            cin[c] = 0 if c in rank else cin[c]
    rows: dict[int, list] = {}
    for c in sorted(clusters, key=idx.get):
        rows.setdefault(rank[c], []).append(c)
    nbrs = {c: set() for c in clusters}
    for c, ds in csucc.items():
        for d in ds:
            nbrs[c].add(d)
            nbrs[d].add(c)
    xpos = {}
    for r in sorted(rows):  # barycentre ordering, top-down
        row = rows[r]

        def bary(c):
            xs = [xpos[d] for d in nbrs[c] if d in xpos]
            return (np.mean(xs) if xs else 0.0, idx[c])
        row.sort(key=bary)
        for i, c in enumerate(row):
            xpos[c] = i - (len(row) - 1) / 2
    pos, y = {}, 0.0
    for r in sorted(rows):
        row = rows[r]
        for start in range(0, len(row), max_per_row):
            chunk = row[start:start + max_per_row]
            height = max(len(clusters[c]) for c in chunk)
            for i, c in enumerate(chunk):
                x = (i - (len(chunk) - 1) / 2) * 1.7 + (0.4 if (start // max_per_row) % 2 else 0.0)
                for k, n in enumerate(clusters[c]):
                    pos[n] = (x, y - k * 0.8)
            y -= height * 0.8 + 0.6
    return pos


def _state_values(obj, ids, time=None) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, Trajectory):
        k = -1 if time is None else int(np.argmin(np.abs(obj.t - time)))
        return {i: float(v) for i, v in zip(obj.ids, obj.values[k])}
    if isinstance(obj, SteadyState):
        out = {i: obj[i] for i in ids if i in obj.ids}
        out.update({p: float(v) for p, v in obj.params.items() if p not in out})
        return out
    if isinstance(obj, Mapping):
        return {k: float(v) for k, v in obj.items()}
    raise InvalidValueError(f"expected a Trajectory, SteadyState or mapping of id -> value, got "
                            f"{type(obj).__name__}")


def network(model, state_or_traj=None, readout_values: Mapping | None = None, ax=None, *,
            reference=None, time: float | None = None, layout: Mapping | None = None,
            show_drugs: bool = True, clip: float = 3.0):
    """Network diagram of the model's species, coloured by activity.

    Nodes are species; solid arrows are conversions (reactant -> product), dashed arrows
    influences (a species in a rate law, directly or through assignment rules, acting on
    the reaction's products). Each node is coloured by ``log2(value / reference)``: red is
    on (up), blue off (down), white unchanged. Drugs with a non-zero value in
    ``state_or_traj`` are drawn as red labels with ⊣ arrows to what they act on.

    Parameters
    ----------
    model : Model
    state_or_traj : Trajectory, SteadyState or mapping, optional
        The condition shown (a trajectory at ``time``, default its last time). None draws
        the structure only.
    readout_values : mapping of str to float, optional
        Colour values per node id given directly (e.g. log2 fold changes you computed);
        they override those from ``state_or_traj``.
    ax : matplotlib Axes, optional
    reference : Trajectory, SteadyState or mapping, optional
        The untreated reference. Default: the model's initial values (for the bundled
        model, the untreated parental steady state).
    layout : mapping of str to (x, y), optional
        Node positions; default a layered layout computed from the graph.
    clip : float
        Colour range ±clip in log2 units.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    species = list(model.species_ids)
    if not species:
        raise InvalidValueError(f"model '{model.id}' has no species to draw")
    conv, infl = network_edges(model)
    sp = set(species)
    s_conv = {(a, b) for a, b in conv if a in sp and b in sp}
    s_infl = {(a, b) for a, b in infl if a in sp and b in sp}
    pos = dict(layout) if layout is not None else _layout(species, sorted(s_conv), sorted(s_infl))
    missing = [s for s in species if s not in pos]
    if missing:
        raise InvalidValueError(f"layout has no position for {', '.join(missing[:5])}")
    color = {}
    if state_or_traj is not None or readout_values:
        cur = _state_values(state_or_traj, species, time)
        if reference is None:
            ref = {}
            for s in model.species:
                v = s.initial_concentration if s.initial_concentration is not None else s.initial_amount
                if v is not None:
                    ref[s.id] = float(v)
        else:
            ref = _state_values(reference, species, time=None)
        for s in species:
            if s in cur and s in ref:
                a, b = abs(cur[s]), abs(ref[s])
                tiny = 1e-12 * max(1.0, a, b)
                if a <= tiny and b <= tiny:
                    color[s] = 0.0
                else:
                    color[s] = float(np.clip(np.log2((a + tiny) / (b + tiny)), -clip, clip))
        for k, v in (readout_values or {}).items():
            if k not in sp:
                raise unknown_id("species", k, species, model=model.id)
            color[k] = float(v)
    n = len(species)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    width = max(6.0, min(22.0, 1.2 * (max(xs) - min(xs) + 2)))
    height = max(4.0, min(16.0, 0.9 * (max(ys) - min(ys) + 2)))
    ax = _axes(ax, (width, height))
    fs = 9 if n <= 30 else 7.5
    for a, b in sorted(s_infl):
        ax.annotate("", pos[b], pos[a], arrowprops=dict(
            arrowstyle="-|>", color="#8a8a8a", lw=0.5, ls="--", alpha=0.5, shrinkA=12,
            shrinkB=12, connectionstyle="arc3,rad=0.12"))
    for a, b in sorted(s_conv):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        rad = 0.5 if abs(x0 - x1) < 1e-9 and abs(y1 - y0) > 0.9 else 0.0  # skip over a stack
        ax.annotate("", pos[b], pos[a], arrowprops=dict(
            arrowstyle="-|>", color="black", lw=1.1, shrinkA=12, shrinkB=12,
            connectionstyle=f"arc3,rad={rad}"))
    norm = Normalize(-clip, clip)
    cmap = plt.get_cmap("RdBu_r")
    for s in species:
        fc = cmap(norm(color[s])) if s in color else "#eeeeee"
        dark = s in color and abs(color[s]) > 0.65 * clip
        ax.text(*pos[s], s, ha="center", va="center", fontsize=fs, zorder=5,
                color="white" if dark else "black",
                bbox=dict(boxstyle="round,pad=0.3", fc=fc, ec="#444444", lw=0.6))
    if show_drugs and state_or_traj is not None:
        vals = _state_values(state_or_traj, species, time)
        for d in drug_names(model):
            if vals.get(d, 0.0) > 0:
                targets = sorted({b for a, b in infl if a == d and b in pos})
                for tgt in targets[:3]:
                    x, y = pos[tgt]
                    ax.annotate(f"{d}", (x, y), (x + 0.35, y + 0.42), fontsize=fs - 1,
                                color="#b00020", zorder=6, ha="center",
                                arrowprops=dict(arrowstyle="-[", color="#b00020", lw=1.0,
                                                shrinkA=2, shrinkB=10))
    if color:
        sm = ScalarMappable(norm=norm, cmap=cmap)
        ax.figure.colorbar(sm, ax=ax, shrink=0.6,
                           label="log2 activity vs reference" if not readout_values else "value")
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    ax.set_title(f"{model.id}: {n} species, {len(model.reactions)} reactions", fontsize="medium")
    return ax
