"""The lab's page: the explorer, the network view and the lessons, as a Panel app.

One :class:`Explorer` per browser session (Panel calls :func:`create_app` for every page
load), so two students never share a state. Every change of a control is read back into a
:class:`~simulator.lab.state.LabState`; a state with problems shows each message next to
its control and keeps the last good plot; a good state is simulated in a thread pool, off
the server's event loop, and drawn when it comes back (unless a newer change came first).
The state is written into the page's URL after every change.

Panel and Bokeh are imported inside the functions that build the page (they take a
second to import; ``crosstalk`` commands other than ``lab`` never need them).
"""
from __future__ import annotations

import html
import io
import json
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import simulator as sim
from simulator.bundled.network import (COLORS, INPUT_LABELS, MODULES, SPECIES_LABELS,
                                       bundled_edges, layout, phenotype_label, readout_label)
from simulator.lab import lessons as L
from simulator.lab import runs as R
from simulator.lab.state import (DURATIONS, MAX_ARMS, MAX_DRUGS, Arm, DrugDose, LabState,
                                 Problem, catalog_of, from_query, parse_dose, parse_number,
                                 to_query, validate)

__all__ = ["create_app", "Explorer", "POOL"]

LOG = logging.getLogger("simulator.lab")
POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lab-sim")
ARM_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
UNIT_OPTIONS = {"nM": "nM", "mg": "mg"}     # a concentration, or mg every so many hours
MSG_STYLE = "color:#9b1c1c;font-size:0.92em;margin:2px 0"
NOTE_STYLE = "color:#555;font-size:0.92em"


def _panel():
    import panel as pn
    return pn


def _msg_html(problems) -> str:
    return "".join(f'<div class="lab-msg" role="alert" style="{MSG_STYLE}">'
                   f'{html.escape(str(p))}</div>' for p in problems)


class Explorer:
    """The widgets, plots and lesson panel of one session."""

    def __init__(self, query=None):
        pn = _panel()
        self.pn = pn
        self.model = R.lab_model()
        self.cat = catalog_of(self.model, [les.key for les in L.LESSONS])
        values = {p.id: p.value for p in self.model.parameters}
        self.defaults = {k: float(values[k]) for k in INPUT_LABELS}
        self.run_count = 0
        self.generation = 0
        self.loading = False
        self.lab = None           # the last good run
        self.state = None
        self.grid_key = None
        self.clock = {}
        self.drawn_generation = 0
        self.link_problems = []
        self._build_widgets()
        self._build_layout()
        start, problems = from_query(query or {}, self.cat)
        self.load(start, problems)

    # ----------------------------------------------------------------- widgets
    def _build_widgets(self):
        pn = self.pn
        cat = self.model.catalog
        self.lesson = pn.widgets.Select(
            name="Lesson", options={"(free exploration)": "",
                                    **{les.title: les.key for les in L.LESSONS}},
            css_classes=["lab-lesson-select"])
        self.cell = pn.widgets.MultiChoice(
            name="Cell: phenotypes (none = parental MCF-7-like)",
            options={phenotype_label(p): p for p in cat.phenotypes})
        self.medium = {k: pn.widgets.TextInput(name=f"{label} (nM)", value=f"{self.defaults[k]:g}",
                                               width=130, css_classes=[f"lab-medium-{k}"])
                       for k, label in INPUT_LABELS.items()}
        self.hours = pn.widgets.Select(name="Length of the run",
                                       options={label: h for h, label in DURATIONS.items()})
        self.readouts = pn.widgets.MultiChoice(
            name="Readouts to plot", options={readout_label(r): r for r in self.cat.readouts},
            max_items=5)
        self.n_arms = pn.widgets.RadioButtonGroup(name="Treatment arms",
                                                  options=[str(i) for i in range(1, MAX_ARMS + 1)])
        drugs = {"(none)": "", **{d: d for d in cat.drugs}}
        self.arm_widgets = []
        for i in range(MAX_ARMS):
            rows = []
            for j in range(MAX_DRUGS):
                css = lambda k: dict(margin=(2, 3),  # noqa: E731
                                     css_classes=[f"lab-{k}-{i + 1}-{j + 1}"])
                rows.append({
                    "drug": pn.widgets.Select(name=f"drug {j + 1}", options=drugs, width=136,
                                              **css("drug")),
                    "dose": pn.widgets.TextInput(name="dose", value="", width=62, **css("dose")),
                    "unit": pn.widgets.Select(name="unit", options=UNIT_OPTIONS, width=72,
                                              **css("unit")),
                    "every": pn.widgets.TextInput(name="every (h)", value="24", width=58,
                                                  disabled=True, **css("every")),
                    "start": pn.widgets.TextInput(name="from (h)", value="0", width=52,
                                                  **css("start")),
                    "stop": pn.widgets.TextInput(name="to (h)", value="", placeholder="end",
                                                 width=52, **css("stop")),
                })
                rows[-1]["unit"].param.watch(
                    lambda e, row=rows[-1]: self._unit_chosen(row, e.new), "value")
            self.arm_widgets.append(rows)
        self.msgs = {k: pn.pane.HTML("", margin=(0, 5), css_classes=[f"lab-msgs-{k}"]) for k in
                     ("url", "cell", "medium", "hours", "readouts", "lesson",
                      *(f"arm{i}" for i in range(1, MAX_ARMS + 1)))}
        for w in self._all_widgets():
            w.param.watch(self._changed, "value")
        self.lesson.param.watch(self._lesson_chosen, "value")
        # fixed heights: a new message does not move the plots (no re-layout in the browser)
        self.status = pn.pane.HTML("", css_classes=["lab-status"], height=44,
                                   styles={"overflow-y": "auto"},
                                   sizing_mode="fixed", width=1080)
        # the plotted numbers for tests and the benchmark: rendered but not laid out
        self.data = pn.pane.HTML("", visible=False, height=0, margin=0)
        self.network_arm = pn.widgets.RadioButtonGroup(name="Arm shown", options=["arm 1"])
        self.network_arm.param.watch(lambda e: self._draw_network(), "value")
        self.csv_button = pn.widgets.FileDownload(callback=self._csv, filename="crosstalk_lab.csv",
                                                  label="Data (CSV)", button_type="default",
                                                  width=150)
        self.png_button = pn.widgets.FileDownload(callback=lambda: self._image("png"),
                                                  filename="crosstalk_lab.png",
                                                  label="Figure (PNG)", width=150)
        self.svg_button = pn.widgets.FileDownload(callback=lambda: self._image("svg"),
                                                  filename="crosstalk_lab.svg",
                                                  label="Figure (SVG)", width=150)
        self.py_button = pn.widgets.FileDownload(callback=self._snippet,
                                                 filename="crosstalk_lab.py",
                                                 label="Python script", width=150)

    def _all_widgets(self):
        yield from (self.cell, self.hours, self.readouts, self.n_arms)
        yield from self.medium.values()
        for rows in self.arm_widgets:
            for row in rows:
                yield from row.values()

    def _build_layout(self):
        pn = self.pn
        self.arm_cards = []
        for i, rows in enumerate(self.arm_widgets):
            body = [pn.Row(r["drug"], r["dose"], r["unit"], r["every"], r["start"], r["stop"],
                           margin=0) for r in rows]
            card = pn.Card(*body, self.msgs[f"arm{i + 1}"], title=f"Arm {i + 1}",
                           header_color=ARM_COLORS[i], collapsible=False, width=510,
                           css_classes=[f"lab-arm{i + 1}"])
            self.arm_cards.append(card)
        medium = pn.Card(pn.Row(*list(self.medium.values())[:3], margin=0),
                         pn.Row(*list(self.medium.values())[3:], margin=0), self.msgs["medium"],
                         title="Medium (applied before and during treatment)", collapsed=True,
                         width=510)
        self.sidebar = pn.Column(
            pn.pane.Markdown("## Crosstalk lab\nAn ER+ breast cancer cell, simulated as you "
                             "change it."),
            self.msgs["url"], self.lesson, self.msgs["lesson"], self.cell, self.msgs["cell"],
            medium, self.hours, self.msgs["hours"], self.readouts, self.msgs["readouts"],
            pn.pane.Markdown("**Treatment arms** (each compared with the untreated cell): "
                             "a drug at a constant concentration in nM, or a clinical "
                             "regimen, mg every so many hours, through the drug's "
                             "pharmacokinetics"),
            self.n_arms, *self.arm_cards, width=520)
        self.plot_box = pn.Column()
        self.network_pane = pn.pane.Bokeh(None)
        self.lesson_pane = pn.Column(visible=False, width=1080, css_classes=["lab-lesson"])
        self.link = pn.pane.HTML("", height=44, width=1080, sizing_mode="fixed")
        exports = pn.Row(self.csv_button, self.png_button, self.svg_button, self.py_button)
        self.tabs = tabs = pn.Tabs(("Time courses", self.plot_box),
                       ("Network", pn.Column(
                           pn.pane.Markdown("Each node is coloured by its level at the end of "
                                            "the run relative to the untreated cell (red: "
                                            "higher, blue: lower); red labels mark where the "
                                            "arm's drugs act."),
                           self.network_arm, self.network_pane)),
                       ("About the model", pn.pane.Markdown(self._about(), width=800)),
                       dynamic=True)
        tabs.param.watch(lambda e: self._draw_network() if e.new == 1 else None, "active")
        self.main = pn.Column(self.lesson_pane, self.status, tabs, exports, self.link,
                              self.data, width=1100)
        self.layout = pn.Row(self.sidebar, self.main)

    def _about(self) -> str:
        lines = ["### What the model can and cannot say",
                 "Compare fold changes between arms, not absolute numbers: concentrations "
                 "of signalling proteins are on arbitrary scales. The model's limits "
                 "(from docs/model.md):"]
        lines += [f"* {item}" for item in L.cannot_say()]
        return "\n".join(lines)

    # ----------------------------------------------------------------- state <-> widgets
    def load(self, state: LabState, problems=(), *, run: bool = True):
        """Put ``state`` into the widgets (and run it)."""
        self.loading = True
        try:
            self.lesson.value = state.lesson
            self.cell.value = [p for p in state.cell]
            medium = dict(state.medium)
            for k, w in self.medium.items():
                w.value = f"{medium.get(k, self.defaults[k]):g}"
            if state.hours not in self.hours.options.values():
                self.hours.options = {**self.hours.options, f"{state.hours:g} hours": state.hours}
            self.hours.value = state.hours
            self.readouts.value = list(state.readouts)
            self.n_arms.value = str(len(state.arms))
            for i, rows in enumerate(self.arm_widgets):
                drugs = state.arms[i].drugs if i < len(state.arms) else ()
                for j, row in enumerate(rows):
                    d = drugs[j] if j < len(drugs) else None
                    row["drug"].value = d.drug if d else ""
                    row["dose"].value = f"{d.amount:g}" if d else ""
                    row["unit"].value = d.unit if d else "nM"
                    row["every"].value = (f"{d.every_h:g}" if d and d.every_h is not None
                                          else "24")
                    row["every"].disabled = row["unit"].value != "mg"
                    row["start"].value = f"{d.start_h:g}" if d else "0"
                    row["stop"].value = "" if d is None or d.stop_h is None else f"{d.stop_h:g}"
        finally:
            self.loading = False
        self._show_arms()
        self._show_lesson(state.lesson)
        self.link_problems = list(problems)   # shown until the student changes something
        if run:
            self._schedule()
        else:
            self._show_problems(self.link_problems)

    def read(self) -> tuple[LabState, list]:
        """The state the widgets show, and the problems of what was typed."""
        problems = []
        medium = []
        for k, w in self.medium.items():
            v, msg = parse_number(w.value, f"{INPUT_LABELS[k]} (nM)", maximum=1e6)
            if msg:
                problems.append(Problem("medium", msg))
            elif v != self.defaults[k]:
                medium.append((k, v))
        arms = []
        for i in range(int(self.n_arms.value)):
            drugs = []
            for j, row in enumerate(self.arm_widgets[i]):
                drug = row["drug"].value
                where = f"arm{i + 1}"
                if not drug:
                    continue
                unit = row["unit"].value
                amount, msg = parse_dose(row["dose"].value, drug, unit)
                if msg:
                    problems.append(Problem(where, msg))
                    continue
                every = None
                if unit == "mg":
                    every, msg = parse_number(row["every"].value,
                                              f"interval between doses of {drug} (h)")
                    if msg:
                        problems.append(Problem(where, msg))
                        continue
                start, msg = parse_number(row["start"].value or "0", f"start of {drug} (h)")
                if msg:
                    problems.append(Problem(where, msg))
                    continue
                stop = None
                if row["stop"].value.strip():
                    stop, msg = parse_number(row["stop"].value, f"stop of {drug} (h)")
                    if msg:
                        problems.append(Problem(where, msg))
                        continue
                drugs.append(DrugDose(drug, amount, start, stop, unit, every))
            arms.append(Arm(tuple(drugs)))
        state = LabState(cell=tuple(self.cell.value), medium=tuple(sorted(medium)),
                         arms=tuple(arms), readouts=tuple(self.readouts.value),
                         hours=float(self.hours.value), lesson=self.lesson.value or "")
        problems += validate(state, self.cat)
        return state, problems

    def _unit_chosen(self, row, unit):
        """A drug switched to mg starts at its label regimen (the catalogue's ``dose_mg``
        every ``tau_h``), so a student does not give 300 mg where 300 nM was meant."""
        row["every"].disabled = unit != "mg"
        if self.loading or unit != "mg" or not row["drug"].value:
            return
        pk = self.model.catalog.drug(row["drug"].value).get("pk") or {}
        if "dose_mg" in pk and "tau_h" in pk:
            self.loading = True
            try:
                row["dose"].value = f"{pk['dose_mg']:g}"
                row["every"].value = f"{pk['tau_h']:g}"
            finally:
                self.loading = False

    def _show_arms(self):
        n = int(self.n_arms.value)
        for i, card in enumerate(self.arm_cards):
            card.visible = i < n

    def _show_problems(self, problems):
        by = {}
        for p in [*self.link_problems, *problems]:
            key = p.control.split(".")[0]
            by.setdefault(key if key in self.msgs else "url", []).append(p)
        for key, pane in self.msgs.items():
            pane.object = _msg_html(by.get(key, []))

    # ----------------------------------------------------------------- events
    def _changed(self, *events):
        if self.loading:
            return
        self.clock = {"changed": time.time()}     # wall clock: the benchmark's stages
        self.link_problems = []
        self._show_arms()
        self._schedule()

    def _lesson_chosen(self, event):
        if self.loading:
            return
        key = event.new
        if key:
            self.load(L.lesson(key).preset)
        else:
            self._show_lesson("")
            self._schedule()

    def _schedule(self):
        state, problems = self.read()
        self._show_problems(problems)
        if problems:
            self.status.object = ("<b>Not simulated:</b> fix the highlighted setting; the "
                                  "plot shows the last good experiment.")
            return
        self.generation += 1
        gen = self.generation
        t0 = time.perf_counter()
        self._background(R.run, (state,), lambda lab: self._finished(lab, gen, t0),
                         "simulation")
        self._say_busy(gen)

    def _say_busy(self, gen):
        """Show "simulating..." only for a run still going after a quarter of a second (a
        fast run's redraw replaces it anyway; sending it would cost the browser a redraw)."""
        def busy():
            if self.generation == gen and self.drawn_generation != gen:
                self.status.object = "simulating..."
        doc = self.pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_timeout_callback(busy, 250)

    def _background(self, fn, args, done, what):
        """Run ``fn(*args)`` in the pool; ``done(result)`` on the session's document (under
        its lock), or right away when there is no server (tests)."""
        doc = self.pn.state.curdoc

        def finish(result):
            try:
                if doc is not None and doc.session_context is not None:
                    doc.hold("combine")      # every change of a redraw in one message
                    try:
                        done(result)
                    finally:
                        doc.unhold()
                else:
                    done(result)
            except Exception as err:   # never a traceback on the page; the log has it
                LOG.exception("%s: drawing failed", what)
                self.status.object = f"<b>Internal error ({what}):</b> {html.escape(str(err))}"

        def compute():
            try:
                return fn(*args), None
            except Exception as err:
                LOG.exception("%s failed", what)
                return None, err

        if doc is None or doc.session_context is None:
            result, err = compute()
            if err is None:
                finish(result)
            return
        future = POOL.submit(compute)

        def callback(fut):
            result, err = fut.result()
            if err is not None:
                doc.add_next_tick_callback(lambda: setattr(
                    self.status, "object", f"<b>Internal error ({what}):</b> "
                                           f"{html.escape(type(err).__name__)}"))
            else:
                doc.add_next_tick_callback(lambda: finish(result))
        future.add_done_callback(callback)

    def _finished(self, lab, gen, t0):
        if gen != self.generation:
            return                  # a newer change is on its way
        self.clock["simulated"] = time.time()
        self.drawn_generation = gen
        self._draw(lab, time.perf_counter() - t0)

    # ----------------------------------------------------------------- drawing
    def _draw(self, lab: R.LabRun, seconds: float):
        self.lab, self.state = lab, lab.state
        self.run_count += 1
        failed = [r for r in lab.runs if r.error]
        note = "".join(f'<div class="lab-msg" style="{MSG_STYLE}">{html.escape(r.name)}: {html.escape(r.error)}</div>'
                       for r in failed)
        self._draw_grid(lab)
        self.network_arm.options = [f"arm {k}" for k in range(1, len(lab.arms) + 1)]
        if self.network_arm.value not in self.network_arm.options:
            self.network_arm.value = "arm 1"
        if self.tabs.active == 1:
            self._draw_network()
        status = (f"{len(lab.arms)} arm{'s' if len(lab.arms) > 1 else ''} and the untreated "
                  f"control, simulated." + note)    # the same text: no update sent
        if self.status.object != status:
            self.status.object = status
        query = to_query(lab.state)
        if self.pn.state.location is not None:
            self.pn.state.location.search = "?" + query
        self.link.object = (f'<span style="{NOTE_STYLE}">Link to this experiment: '
                            f'<code id="lab-link">?{html.escape(query)}</code></span>')
        payload = lab.plotted()
        payload.update(run=self.run_count, query=query, seconds=lab.seconds,
                       clock={**self.clock, "drawn": time.time()})
        self.data.object = (f'<pre id="lab-data" hidden>'
                            f'{html.escape(json.dumps(payload, default=lambda x: None))}</pre>')

    def _draw_grid(self, lab: R.LabRun):
        from bokeh.layouts import gridplot
        from bokeh.models import ColumnDataSource, HoverTool, Range1d
        from bokeh.plotting import figure
        state = lab.state
        div, xlabel = R.time_axis(state.hours)
        x = np.array(lab.t / div, dtype=float)
        key = (state.readouts, len(lab.arms), div)
        new_grid = None
        if key != self.grid_key:
            self.grid_key = key
            self.sources, self.ranges, self.figs, self.shown = {}, {}, {}, {}
            self.x_range = x_range = Range1d(0, float(x[-1]))
            rows = []
            for i, rid in enumerate(state.readouts):
                y_range = Range1d(0.5, 2.0)      # > 0: also a valid log range
                self.ranges[rid] = y_range
                ctl = ColumnDataSource({"x": [], "y": []})    # one per row, in every panel
                self.sources[rid] = ctl
                row = []
                for j in range(len(lab.arms)):
                    # small multiples: the y axis in the first column, the x axis in the
                    # bottom row (every axis costs the browser text measurement per redraw)
                    last = i == len(state.readouts) - 1
                    width = max(240, 960 // len(lab.arms)) + (60 if j == 0 else 0)
                    fig = figure(height=220 + (40 if last else 0), width=width, x_range=x_range,
                                 y_range=y_range, tools="pan,box_zoom,reset",
                                 y_axis_type="log" if rid == "tumor_burden" else "linear")
                    arm = ColumnDataSource({"x": [], "y": []})
                    fig.line("x", "y", source=ctl, color="#777777", line_dash="dashed",
                             line_width=1.6, legend_label="untreated")
                    fig.line("x", "y", source=arm, color=ARM_COLORS[j], line_width=2.4,
                             legend_label="treated")
                    fig.add_tools(HoverTool(tooltips=[("time", "@x{0.[00]}"),
                                                      ("value", "@y{0.[000]}")]))
                    fig.legend.visible = i == 0 and j == 0
                    fig.legend.location = "top_left"
                    fig.legend.label_text_font_size = "8pt"
                    fig.yaxis.axis_label = readout_label(rid) if j == 0 else ""
                    fig.yaxis.visible = j == 0
                    fig.yaxis.axis_label_text_font_size = "8.5pt"
                    fig.xaxis.axis_label = xlabel if last else ""
                    fig.xaxis.visible = last
                    fig.xgrid.visible = False
                    fig.toolbar.logo = None
                    self.sources[rid, j] = arm
                    self.figs[rid, j] = fig
                    row.append(fig)
                rows.append(row)
            new_grid = gridplot(rows, toolbar_location="right")
        first = state.readouts[0]
        if float(x[-1]) != self.x_range.end:
            self.x_range.end = float(x[-1])
        # only what changed goes to the browser: an arm whose run is the same object as the
        # one drawn (the run cache hands it back) keeps its data source untouched
        for rid in state.readouts:
            c = lab.values(lab.control, rid)
            values = [c] + [lab.values(a, rid) for a in lab.arms]
            finite = [v for v in values if v is not None]
            lo = min(float(np.min(v)) for v in finite) if finite else 0.0
            hi = max(float(np.max(v)) for v in finite) if finite else 1.0
            if rid == "tumor_burden":
                lo, hi = max(lo, 1e-6) / 1.3, max(hi, 1e-6) * 1.3
            else:
                pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
                lo, hi = lo - pad, hi + pad
            rng = self.ranges[rid]
            if _rescale(rng.start, rng.end, lo, hi, log=rid == "tumor_burden"):
                rng.update(start=lo, end=hi)
            if self.shown.get(rid) is not lab.control:
                self.shown[rid] = lab.control
                self.sources[rid].data = {"x": x, "y": c if c is not None else np.zeros(0)}
            for j, arm in enumerate(lab.arms):
                fig = self.figs[rid, j]
                title = (arm.name if rid == first else "") + \
                    (f"  (failed: {arm.error[:80]})" if arm.error and rid == first else "")
                if fig.title.text != title:
                    fig.title.text = title
                if self.shown.get((rid, j)) is arm:
                    continue
                self.shown[rid, j] = arm
                v = values[j + 1]
                self.sources[rid, j].data = {"x": x if v is not None else np.zeros(0),
                                             "y": v if v is not None else np.zeros(0)}
        if new_grid is not None:     # shown once filled: a grid drawn empty stays collapsed
            self.plot_box.objects = [self.pn.pane.Bokeh(new_grid)]

    def _draw_network(self):
        if self.lab is None or self.tabs.active != 1:
            return
        from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper
        from bokeh.palettes import RdBu11
        from bokeh.plotting import figure
        k = int(str(self.network_arm.value).split()[-1]) if self.network_arm.value else 1
        k = min(k, len(self.lab.arms))
        act = self.lab.activity(k)
        pos = layout()
        conv, reg = bundled_edges()
        fig = figure(width=1000, height=560, tools="", toolbar_location=None,
                     x_range=(-1.4, 2.2 * (len(MODULES) - 1) + 1.4), y_range=(-13.8, 1.6),
                     title=f"Arm {k}: {self.lab.arms[k - 1].name}, relative to untreated")
        fig.axis.visible = False
        fig.grid.visible = False
        for style, edges, color, alpha in (("dashed", reg, "#aaaaaa", 0.35),
                                           ("solid", conv, "#333333", 0.8)):
            e = [(pos[a], pos[b]) for a, b in edges if a in pos and b in pos]
            fig.segment([p[0][0] for p in e], [p[0][1] for p in e], [p[1][0] for p in e],
                        [p[1][1] for p in e], line_color=color, line_alpha=alpha,
                        line_dash=style, line_width=1)
        mapper = LinearColorMapper(palette=list(RdBu11), low=-3, high=3)
        ids = [sid for ids in MODULES.values() for sid in ids]
        src = ColumnDataSource({
            "x": [pos[s][0] for s in ids], "y": [pos[s][1] for s in ids],
            "label": [SPECIES_LABELS.get(s, s) for s in ids],
            "change": [max(-3.0, min(3.0, act.get(s, 0.0))) for s in ids],
            "border": [COLORS[m] for m, sids in MODULES.items() for _ in sids],
            "ink": ["white" if abs(act.get(s, 0.0)) > 1.8 else "black" for s in ids]})
        fig.rect("x", "y", width=1.95, height=0.62, source=src,
                 fill_color={"field": "change", "transform": mapper}, line_color="border",
                 line_width=3)
        fig.text("x", "y", text="label", source=src, text_align="center", text_color="ink",
                 text_baseline="middle", text_font_size="7.5pt")
        for mod, sids in MODULES.items():
            fig.text([pos[sids[0]][0]], [1.0], text=[mod], text_align="center",
                     text_font_size="11pt", text_font_style="bold")
        targets = R.drug_targets(self.lab, k)
        if targets:
            fig.text([pos[s][0] for s in targets], [pos[s][1] - 0.45 for s in targets],
                     text=["blocked by " + "/".join(d) for d in targets.values()],
                     text_color="#b00020", text_align="center", text_font_size="8pt",
                     text_font_style="bold")
        fig.add_layout(ColorBar(color_mapper=mapper, title="log2 change vs untreated",
                                width=10), "right")
        self.network_pane.object = fig

    # ----------------------------------------------------------------- lessons
    def _show_lesson(self, key: str):
        pn = self.pn
        self.lesson_pane.clear()
        if not key:
            self.lesson_pane.visible = False
            return
        les = L.lesson(key)
        parts = [f"## {les.title}"]
        if les.placeholder:
            parts.append(f"*{les.placeholder}*")
        parts.append(L.explanation(les))
        notes = L.model_notes(les)
        if notes:
            parts.append("**How the model does it** (from docs/model.md):\n\n" +
                         "\n".join(f"* {n}" for n in notes))
        share = L.robustness_share(les)
        if share:
            parts.append(f"*How sure is the model?* This behaviour still holds in {share} of "
                         f"random perturbations of its parameters (docs/model.md, Robustness).")
        srcs = L.sources(les, self.model)
        body = pn.pane.Markdown("\n\n".join(parts), width=1060)
        source_card = pn.Card(pn.pane.Markdown("\n".join(f"* {s}" for s in srcs) or
                                               "(no published source listed)"),
                              title="Sources", collapsed=True, width=1060)
        question = pn.pane.Markdown(f"**Question for the class:** {les.question}",
                                    width=1060)
        answer = pn.pane.Markdown(f"**Answer:** {les.answer}", visible=False,
                                  css_classes=["lab-answer"], width=1060)
        reveal = pn.widgets.Button(name="Show the answer", button_type="primary", width=160)
        reveal.on_click(lambda e: setattr(answer, "visible", True))
        nxt_text = pn.pane.Markdown(f"**Try this next:** {les.try_next_text}",
                                    width=1060)
        nxt = pn.widgets.Button(name="Try this next", button_type="success", width=160)
        nxt.on_click(lambda e: self.load(les.try_next))
        back = pn.widgets.Button(name="Back to the preset", width=160)
        back.on_click(lambda e: self.load(les.preset))
        items = [body, source_card, question, reveal, answer, nxt_text, pn.Row(nxt, back)]
        if les.bliss:
            self.bliss_pane = pn.pane.Matplotlib(None, dpi=90, tight=True, height=330,
                                                 format="png")
            items.insert(1, pn.Column(pn.pane.Markdown("**Bliss map** (growth rate at 72 h): "
                                                       "red means the pair does more than "
                                                       "expected from each drug alone."),
                                      self.bliss_pane))
            self._background(bliss_figure, (les,),
                             lambda fig: setattr(self.bliss_pane, "object", fig), "Bliss map")
        if les.trial:
            items.insert(1, self._trial_panel(les))
        self.lesson_pane.extend(items)
        self.lesson_pane.visible = True

    def _trial_panel(self, les):
        """The lesson's virtual trial: run on demand (a button) in the pool, once per server
        (then shared by every session); Kaplan-Meier plot, hazard ratio, the caveat."""
        pn = self.pn
        name, patients, seed, draws = les.trial
        trial = sim.Trial.from_toml(L.trial_path(les), catalog=self.model.catalog)
        pop = trial.population
        traits = ", ".join(
            f"{phenotype_label(p)} in {'all' if f >= 1 else f'{100 * f:g}%'}"
            + (" (as a small subclone)" if p in pop.subclonal else "")
            for p, f in pop.phenotypes.items())
        arms = " vs ".join(a.label for a in trial.arms.values())
        intro = pn.pane.Markdown(
            f"**The virtual trial: {trial.name}, {arms}.** {patients} virtual patients per "
            f"arm (seed {seed}) with {pop.description}: each tumour is a mixture of cell "
            f"states drawn from the population ({traits}), given the trial's regimens "
            f"through pharmacokinetics and scanned every {trial.scan_every_weeks:g} weeks; "
            f"progression by RECIST 1.1. One number, the tumours' untreated doubling time, "
            f"is fitted to the control arm; the other arm is a prediction. Running it takes "
            f"20 to 60 seconds (then it is kept for everyone).", width=1060)
        self.trial_pane = pn.pane.Matplotlib(None, dpi=80, tight=True, height=400,
                                             format="png", css_classes=["lab-trial-plot"],
                                             visible=False)
        self.trial_text = pn.pane.Markdown("", width=1060, css_classes=["lab-trial-text"])
        button = pn.widgets.Button(name="Run the virtual trial", button_type="primary",
                                   width=200, css_classes=["lab-trial-run"])

        def show(out):
            fig, text = out
            self.trial_pane.object = fig
            self.trial_pane.visible = True
            self.trial_text.object = text

        def run(event):
            button.disabled = True
            self.trial_text.object = ("*Simulating the trial's patients... (20 to 60 "
                                      "seconds; the explorer keeps working)*")
            self._background(trial_result, (les,), show, "virtual trial")
        button.on_click(run)
        return pn.Column(intro, button, self.trial_text, self.trial_pane)

    # ----------------------------------------------------------------- exports
    def _csv(self):
        return io.StringIO(self.lab.csv() if self.lab else "")

    def _image(self, fmt):
        return io.BytesIO(R.image(self.lab, fmt) if self.lab else b"")

    def _snippet(self):
        return io.StringIO(R.snippet(self.state) if self.state else "")


def _rescale(start, end, lo, hi, *, log=False) -> bool:
    """Whether a row's y range (start, end) must change to show (lo, hi), padded: when the
    data leave it, or fill less than 70% of it. A change that stays inside keeps the axis,
    so the panels of unchanged arms are not redrawn."""
    if start is None or end is None or not (start <= lo and hi <= end):
        return True
    f = (lambda v: math.log(max(v, 1e-12))) if log else (lambda v: v)
    return (f(hi) - f(lo)) < 0.7 * (f(end) - f(start))


def bliss_figure(les):
    """The lesson's Bliss excess map (a matplotlib Figure)."""
    plt = sim.plot.pyplot(headless=True)
    a, doses_a, b, doses_b, phen = les.bliss
    combo = sim.combination(R.lab_model(), (a, list(doses_a)), (b, list(doses_b)),
                            readout="growth_rate", at_time=72.0, phenotype=list(phen))
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    combo.plot_heatmap("bliss", ax=ax)
    score = combo.bliss.score
    ax.set_title(f"Bliss excess, {a} x {b} ({' + '.join(phen)}); mean "
                 f"{score:+.1f}" if score is not None and math.isfinite(score) else "Bliss excess",
                 fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


_TRIALS: dict = {}
_TRIALS_LOCK = threading.Lock()


def trial_result(les):
    """``(figure, Markdown)`` of a trial lesson's virtual trial: Kaplan-Meier curves and
    lesion trajectories (``TrialResult.plot``), the hazard ratio and medians beside the
    published ones, and docs/trials.md's caveat. Computed once per process; a second caller
    waits for the first."""
    with _TRIALS_LOCK:
        entry = _TRIALS.setdefault(les.trial, [threading.Lock(), None])
    with entry[0]:
        if entry[1] is None:
            entry[1] = _run_trial(les)
        return entry[1]


def _run_trial(les):
    from matplotlib.figure import Figure
    name, patients, seed, draws = les.trial
    model = R.lab_model()
    trial = sim.Trial.from_toml(L.trial_path(les), catalog=model.catalog)
    t0 = time.perf_counter()
    res = sim.virtual_trial(model, trial, patients=patients, seed=seed, draws=draws,
                            progress=False)
    seconds = time.perf_counter() - t0
    fig = res.plot(fig=Figure(figsize=(12, 4.6)))
    hr, lo, hi, p = res.hazard_ratio
    pub = trial.published
    labels = {a: trial.arms[a].label for a in res.arms}
    medians = "; ".join(
        f"{labels[a]}: {_months(res.median_pfs[a][0])}"
        + (f" (published {pub.median_pfs_months[a]:g})" if a in pub.median_pfs_months else "")
        for a in res.arms)
    text = [f"**Simulated {trial.name}** ({patients} patients per arm, {seconds:.0f} s): "
            f"hazard ratio of progression **{_num(hr)}** (95% CI {_num(lo)} to {_num(hi)}, "
            f"log-rank p = {p:.2g})" + (f"; the trial published **{pub.hazard_ratio[0]:g}** "
                                        f"({pub.hazard_ratio[1]:g} to {pub.hazard_ratio[2]:g})"
                                        if pub.hazard_ratio and len(pub.hazard_ratio) == 3
                                        else "") + ".",
            f"Median progression-free survival, months: {medians}.",
            f"**Caveat** (docs/trials.md, on the bundled trials at 200 patients per arm): "
            f"{L.trial_caveat()}"]
    return fig, "\n\n".join(text)


def _num(x) -> str:
    return f"{x:.2f}" if x is not None and math.isfinite(x) else "not estimable"


def _months(m) -> str:
    return f"{m:.1f}" if math.isfinite(m) else "not reached"


def create_app():
    """The page of one session (Panel calls this for every page load)."""
    pn = _panel()
    query = dict(pn.state.session_args) if pn.state.session_args else {}
    try:
        explorer = Explorer(query)
    except Exception:              # never a traceback on the page
        LOG.exception("could not build the page")
        return pn.pane.Markdown("The lab could not start this page; see the server's log.")
    return explorer.layout
