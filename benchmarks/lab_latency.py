"""Latency of the teaching lab, measured through the browser: from a control change to the
new plot, for a four-arm, 14-day comparison (``make bench-lab``).

Starts ``crosstalk lab`` on a free port, opens it in headless Chromium (the distribution's
package, driven by Playwright) and, for each interaction, types a new value into a control
and presses Enter; the clock stops when the page's plotted data (updated in the same
document patch as the plot's data sources) carries the new run. Two kinds of change:

* ``dose``: a new dose in arm 1 (one arm re-simulated, all four panels redrawn), the
  interaction a student makes most;
* ``medium``: a new EGF level in the medium (a new untreated steady state, then the control
  and all four arms re-simulated).

Every value is new, so no cached run is reused. Prints p50 / p95 / max per kind, the
server-side simulation share, and where the time goes (on the machine's wall clock, which
the browser, the server and this script share): browser to server, simulation (with the
thread pool's queue), the figure updates in Python, and serialisation, transfer and
BokehJS's redraw until the page's data shows the new run. Writes out/lab/latency.json.

    python benchmarks/lab_latency.py [--n 40]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUERY = ("hours=336&readouts=tumor_burden,growth_rate,ER_activity"
         "&arm1=tamoxifen:300&arm2=letrozole:100&arm3=fulvestrant:100"
         "&arm4=letrozole:100,everolimus:20")


STAGES = ("to_server", "simulation", "python_draw", "transfer_and_browser")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data(page):
    return json.loads(page.locator("#lab-data").text_content())


# Waits in the page, once per animation frame, for the data element to carry a newer run,
# then for two more frames (the frame that painted the plots has ended). The element lives
# in Panel's shadow DOM: its container is found once, so polling costs the page little
# (Playwright's selector engine every few ms took ~60 ms of browser time per change).
_WAIT_JS = """([before, start]) => new Promise(resolve => {
  const find = (root) => {
    const hit = root.querySelector('#lab-data');
    if (hit) return hit.parentNode;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; }
    }
    return null;
  };
  const box = window.__labBox && window.__labBox.isConnected ? window.__labBox
              : (window.__labBox = find(document));
  const tick = () => {
    const el = box && box.querySelector('#lab-data');
    let run = -1;
    try { run = el ? JSON.parse(el.textContent).run : -1; } catch (e) {}
    if (run > before) {
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - start)));
    } else if (performance.now() - start > 120000) {
      resolve(-1);
    } else {
      requestAnimationFrame(tick);
    }
  };
  tick();
})"""


def _change(page, css, value, before, timeout=120.0):
    box = page.locator(f"{css} input")
    box.fill(value)
    box.evaluate("el => { window.__labT0 = performance.now(); }")
    wall0 = time.time()
    t0 = time.perf_counter()
    box.press("Enter")
    deadline = t0 + timeout
    last = None
    while time.perf_counter() < deadline:
        try:
            # the page's own clock, from just before the key press to the painted frame
            dt = page.evaluate("args => (" + _WAIT_JS + ")(args)",
                               [before, page.evaluate("() => window.__labT0")]) / 1e3
            d = _data(page)
            if d["run"] > before:
                c = d.get("clock") or {}
                if {"changed", "simulated", "drawn"} <= set(c):
                    # stages on the machine's wall clock (browser, server and this script
                    # share it): browser -> server, simulation (with the pool's queue),
                    # figure updates in Python, then serialisation, transfer and BokehJS
                    d["stages"] = (c["changed"] - wall0, c["simulated"] - c["changed"],
                                   c["drawn"] - c["simulated"], wall0 + dt - c["drawn"])
                return dt, d
        except Exception as err:
            last = err
        time.sleep(0.005)
    page.screenshot(path=str(ROOT / "out" / "lab" / "latency_timeout.png"), full_page=True)
    status = page.locator(".lab-status").text_content()
    raise TimeoutError(f"no redraw within {timeout} s after {css} = {value} (status: "
                       f"{status!r}; {last!r})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="interactions per kind")
    ap.add_argument("--out", default=str(ROOT / "out" / "lab" / "latency.json"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no chromium executable on PATH (apt-get install chromium)")
    port = _free_port()
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    log = Path(args.out).with_name("latency_server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:     # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "lab", "--port",
                                 str(port), "--no-browser"], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, text=True)
    try:
        while "Crosstalk lab at" not in log.read_text():
            if proc.poll() is not None:
                sys.exit(f"the lab exited:\n{log.read_text()}")
            time.sleep(0.2)
        results = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1640, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}/?{QUERY}")
            page.locator("#lab-data").wait_for(state="attached", timeout=300_000)
            run = _data(page)["run"]
            page.get_by_text("Medium (applied before and during treatment)").click()
            for kind, css, values in (
                    ("dose", ".lab-dose-1-1", [f"{300 + 0.37 * (i + 1):.2f}" for i in range(args.n)]),
                    ("medium", ".lab-medium-EGF", [f"{0.05 + 0.011 * (i + 1):.3f}" for i in range(args.n)])):
                times, sims, stages = [], [], []
                for v in ["1" + values[0]] + values:    # the first one warms up, not counted
                    dt, d = _change(page, css, v, run)
                    run = d["run"]
                    times.append(dt)
                    sims.append(d.get("seconds", float("nan")))
                    stages.append(d.get("stages", (float("nan"),) * 4))
                times, sims = np.array(times[1:]) * 1e3, np.array(sims[1:]) * 1e3
                stages = np.array(stages[1:]) * 1e3
                results[kind] = {"n": len(times), "p50_ms": float(np.percentile(times, 50)),
                                 "p95_ms": float(np.percentile(times, 95)),
                                 "max_ms": float(times.max()),
                                 "server_simulation_p50_ms": float(np.nanpercentile(sims, 50)),
                                 "stages_p50_ms": dict(zip(STAGES, np.nanpercentile(
                                     stages, 50, axis=0).round(1).tolist())),
                                 "stages_p95_ms": dict(zip(STAGES, np.nanpercentile(
                                     stages, 95, axis=0).round(1).tolist()))}
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"4 arms + untreated control, 14 days, {os.cpu_count()} cores; control change -> "
          f"new plot in the browser:")
    for kind, r in results.items():
        print(f"  {kind:7s} n={r['n']}: p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
              f"max {r['max_ms']:.0f} ms (simulation on the server, p50 "
              f"{r['server_simulation_p50_ms']:.0f} ms)")
        print("          stages p50 / p95 (ms): " + ", ".join(
            f"{k} {r['stages_p50_ms'][k]:.0f} / {r['stages_p95_ms'][k]:.0f}" for k in STAGES))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
