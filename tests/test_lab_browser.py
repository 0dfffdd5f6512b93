"""The teaching lab in a real browser: headless Chromium (the distribution's package) driven
by Playwright against ``crosstalk lab`` started as a subprocess.

Skipped, with the reason, where Playwright or a chromium executable is missing; CI installs
chromium (.ci/run). Screenshots of every lesson go to out/lab/ for review.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "lab"
CHROMIUM = next((p for p in (os.environ.get("CROSSTALK_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p), None)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH (apt-get "
                                                "install chromium; .ci/run does)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                                             "(pip install '.[dev]')")

from simulator.lab import lessons as L  # noqa: E402
from simulator.lab.state import LabState, to_query  # noqa: E402

TIMEOUT = 90.0      # s: a loaded 2-core machine
TRIAL_TIMEOUT = 600.0   # s: the virtual-trial lesson's cohort (20-60 s unloaded)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    log = tmp_path_factory.mktemp("lab") / "server.log"
    with open(log, "w") as fh:     # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "lab", "--port",
                                 str(port), "--no-browser"], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while "Crosstalk lab at" not in log.read_text():
        if proc.poll() is not None:
            pytest.fail("the lab exited:\n" + log.read_text())
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the lab did not start within 300 s:\n" + log.read_text())
        time.sleep(0.2)
    assert f"http://localhost:{port}/" in log.read_text()
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    out = log.read_text()
    ours = [block for block in out.split("Traceback")[1:] if "simulator" in block]
    assert not ours, "the lab logged a traceback of its own:\n" + "\n".join(ours)[-3000:]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1640, "height": 1100},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.problems = []
    page.outside = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1",
                                                           "data:", "blob:"))
            else page.outside.append(r.url))
    yield page
    context.close()


def data(page) -> dict:
    return json.loads(page.locator("#lab-data").text_content())


def open_lab(page, url, query="") -> dict:
    page.goto(url + ("?" + query if query else ""))
    page.locator("#lab-data").wait_for(state="attached")
    return data(page)


def wait_for(page, predicate, what):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            d = data(page)
            if predicate(d):
                return d
        except Exception:     # the element is being replaced
            pass
        page.wait_for_timeout(100)
    pytest.fail(f"timed out waiting for {what}")


def type_into(page, css, text):
    box = page.locator(f"{css} input")
    box.fill(text)
    box.press("Enter")


def plots_shown(page) -> int:
    canvases = page.locator("canvas")
    return sum(1 for i in range(canvases.count())
               if (canvases.nth(i).bounding_box() or {"width": 0})["width"] > 150)


def test_page_loads_without_errors_or_outside_requests(server, page):
    d = open_lab(page, server)
    assert d["run"] == 1 and d["query"] == to_query(LabState())
    assert plots_shown(page) >= 3
    page.get_by_text("Network", exact=True).click()
    page.get_by_text("Each node is coloured").wait_for()
    page.wait_for_timeout(1500)
    assert plots_shown(page) >= 1                         # the network view
    page.get_by_text("Time courses", exact=True).click()
    assert page.problems == []
    assert page.outside == [], "requests leaving the machine (CDN?)"


def test_a_dose_change_redraws_what_simulate_gives(server, page):
    import simulator as sim
    from simulator.lab.runs import N_POINTS
    d0 = open_lab(page, server, "hours=336&readouts=tumor_burden,ER_activity&arm1=tamoxifen:300")
    type_into(page, ".lab-dose-1-1", "30")
    d1 = wait_for(page, lambda d: d["run"] > d0["run"], "the redraw")
    assert d1["query"].endswith("arm1=tamoxifen:30")
    assert d1["runs"][1]["values"]["ER_activity"] != d0["runs"][1]["values"]["ER_activity"]
    model = sim.load_model()
    t = np.linspace(0.0, 336.0, N_POINTS)
    ref = sim.run_treatment(model, {"tamoxifen": 30.0}, t)
    ctl = sim.run_treatment(model, {}, t)
    for rid in ("tumor_burden", "ER_activity"):
        assert d1["runs"][1]["values"][rid] == ref[rid].tolist()
        assert d1["runs"][0]["values"][rid] == ctl[rid].tolist()
    page.wait_for_function("() => window.location.search.includes('tamoxifen:30')")
    with page.expect_download() as dl:                     # the CSV export is what is plotted
        page.get_by_text("Data (CSV)", exact=True).click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    arm = [float(r["ER_activity"]) for r in rows if r["arm"] == "arm 1"]
    np.testing.assert_allclose(arm, ref["ER_activity"], rtol=1e-9)
    assert page.problems == []


def test_a_regimen_in_mg_redraws_what_the_pk_gives(server, page):
    import simulator as sim
    from simulator.lab.runs import N_POINTS
    d0 = open_lab(page, server, "hours=336&readouts=tumor_burden,ER_activity&arm1=letrozole:100")
    page.locator(".lab-unit-1-1 select").select_option(label="mg")
    d1 = wait_for(page, lambda d: d["run"] > d0["run"], "the redraw of a regimen")
    assert d1["query"].endswith("arm1=letrozole:2.5mg/q24h")          # the label regimen
    assert d1["runs"][1]["name"] == "letrozole 2.5 mg daily"
    assert d1["runs"][1]["values"]["ER_activity"] != d0["runs"][1]["values"]["ER_activity"]
    t = np.linspace(0.0, 336.0, N_POINTS)
    ref = sim.run_treatment(sim.load_model(), sim.Treatment(
        {"letrozole": sim.Dose(2.5, "mg", sim.Schedule.every(24.0))}), t)
    for rid in ("tumor_burden", "ER_activity"):
        assert d1["runs"][1]["values"][rid] == ref[rid].tolist()
    run = d1["run"]
    for css, bad, words in ((".lab-every-1-1", "0.1", "at least 1 hour apart"),
                            (".lab-every-1-1", "daily", "must be a number"),
                            (".lab-dose-1-1", "-2.5", ">= 0")):
        type_into(page, css, bad)
        page.locator(".lab-msgs-arm1 .lab-msg").filter(has_text=words).wait_for()
        page.locator(".lab-status").get_by_text("Not simulated").wait_for()
        assert data(page)["run"] == run and plots_shown(page) >= 2
        type_into(page, css, "24" if "every" in css else "2.5")
        run = wait_for(page, lambda d: d["run"] > run, "the redraw after a fix")["run"]
    page.locator(".lab-drug-1-1 select").select_option("dactolisib")    # no PK in the catalogue
    page.locator(".lab-msgs-arm1 .lab-msg").filter(has_text="cannot be given in mg").wait_for()
    assert data(page)["run"] == run and plots_shown(page) >= 2
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "regimen_no_pk.png"), full_page=True)
    assert page.problems == []


def test_a_bad_dose_shows_a_message_and_keeps_the_plot(server, page):
    d0 = open_lab(page, server, "arm1=everolimus:20&hours=72&readouts=pS6")
    for bad, words in (("-5", ">= 0"), ("abc", "must be a number"), ("1e999", "finite")):
        type_into(page, ".lab-dose-1-1", bad)
        page.locator(".lab-msgs-arm1 .lab-msg").filter(has_text=words).wait_for()
        page.locator(".lab-status").get_by_text("Not simulated").wait_for()
        assert data(page)["run"] == d0["run"] and plots_shown(page) >= 1
    type_into(page, ".lab-dose-1-1", "2")
    wait_for(page, lambda d: d["run"] > d0["run"], "the redraw after a good dose")
    assert page.locator(".lab-msgs-arm1 .lab-msg").count() == 0
    assert page.problems == []


def test_a_link_round_trips_and_a_bad_link_is_explained(server, page, browser):
    les = L.lesson("b08_pten_loss")
    q = to_query(les.try_next)
    d = open_lab(page, server, q)
    assert d["query"] == q
    assert [r["name"] for r in d["runs"]][1:] == [a.label for a in les.try_next.arms]
    other = browser.new_page()
    try:
        d2 = open_lab(other, server, d["query"])
        assert d2["runs"] == d["runs"]
    finally:
        other.close()
    open_lab(page, server, "arm1=tamoxifen:__import__('os')&cell=HER2amp&colour=red")
    page.locator(".lab-msgs-arm1 .lab-msg").filter(has_text="must be a number").wait_for()
    page.locator(".lab-msgs-cell .lab-msg").filter(has_text="did you mean 'HER2_amplified'").wait_for()
    page.locator(".lab-msgs-url .lab-msg").filter(has_text="unknown setting 'colour'").wait_for()
    assert data(page)["query"] == to_query(LabState())
    assert page.problems == []


def test_two_sessions_keep_their_own_state(server, browser):
    a, b = (browser.new_context().new_page() for _ in range(2))
    try:
        da = open_lab(a, server, "arm1=letrozole:100&hours=72")
        db = open_lab(b, server, "arm1=letrozole:100&hours=72")
        type_into(a, ".lab-dose-1-1", "5")
        wait_for(a, lambda d: d["run"] > da["run"], "session A's redraw")
        b.wait_for_timeout(1000)
        assert data(b) == db
        assert "letrozole:5" in data(a)["query"] and "letrozole:100" in data(b)["query"]
    finally:
        a.context.close()
        b.context.close()


def test_every_lesson_loads_its_preset_and_plot(server, page):
    OUT.mkdir(parents=True, exist_ok=True)
    open_lab(page, server, "hours=72")
    for les in L.LESSONS:
        page.locator(".lab-lesson-select select").select_option(label=les.title)
        want = to_query(les.preset)
        wait_for(page, lambda d: d["query"] == want, f"lesson {les.key}")
        page.locator(".lab-lesson").get_by_text(les.title).wait_for()
        assert plots_shown(page) >= len(les.preset.readouts) * len(les.preset.arms)
        page.get_by_role("button", name="Show the answer").click()
        page.locator(".lab-answer").wait_for(state="visible")
        if les.bliss:
            page.locator(".lab-lesson img").first.wait_for()
        if les.trial:                  # the virtual trial runs on demand: KM plot and HR
            page.get_by_role("button", name="Run the virtual trial").click()
            page.locator(".lab-trial-plot img").wait_for(timeout=TRIAL_TIMEOUT * 1000)
            page.locator(".lab-trial-text").get_by_text("hazard ratio").wait_for()
            page.locator(".lab-trial-text").get_by_text("Caveat").wait_for()
        page.wait_for_timeout(400)
        page.screenshot(path=str(OUT / f"{les.key}.png"), full_page=True)
    page.get_by_role("button", name="Try this next").click()
    last = L.LESSONS[-1]
    wait_for(page, lambda d: d["query"] == to_query(last.try_next), "try this next")
    assert page.problems == []
