"""Drug effects at clinical doses against tumour biopsies of treated patients.

Fulvestrant degrades ER. NEWEST (Kuter et al., Breast Cancer Res Treat 2012;133:237,
doi:10.1007/s10549-011-1947-7) biopsied postmenopausal, treatment-naive ER+ tumours before
and after 4 weeks of fulvestrant: ER fell by 50.3% (H score) or 25.0% (automated imaging,
ACIS) at 500 mg (days 1, 15, 29), and by 13.7% / 13.5% at 250 mg monthly. The model's
parental cell, at the catalogue's PK and unbound fraction, must fall inside the range of
the two assays (±10 points: they disagree by 25 points at 500 mg) and keep the dose order.
It does at 500 mg (55%); at 250 mg it lowers ER by 24%, outside (marked, strict).

The same biopsies' Ki67 labelling index fell by 78.8% (500 mg) and 47.4% (250 mg) at week 4.
The model's proliferation falls far less (34% and 11%): recorded as strict expected failures,
so a model change that closes the gap is noticed (issue #11; docs/trials.md, the mapping).
"""
from __future__ import annotations

import pytest

import simulator as sim
from simulator.treatments.schedule import Dose, Schedule, Treatment

DAY = 24.0
NEWEST_WEEK4 = {500: (0.250, 0.503), 250: (0.135, 0.137)}   # ER fall: ACIS, H score
MARGIN = 0.10
NEWEST_KI67_WEEK4 = {500: 0.788, 250: 0.474}    # Ki67 labelling index fall, automated imaging
KI67_MARGIN = 0.15


@pytest.fixture(scope="module")
def week4():
    """1 - week 4 / baseline of ER_total and of proliferation, per dose (mg)."""
    model = sim.load_model()
    out = {}
    for mg, schedule in ((500, Schedule.loading([0.0, 14 * DAY], then_every=28 * DAY)),
                         (250, Schedule.every(28 * DAY))):
        tr = sim.run_treatment(model, Treatment({"fulvestrant": Dose(mg, "mg", schedule)}),
                               [0.0, 28 * DAY])
        out[mg] = {k: 1.0 - tr[k][-1] / tr[k][0] for k in ("ER_total", "proliferation")}
    return out


@pytest.fixture(scope="module")
def er_fall(week4):
    return {mg: v["ER_total"] for mg, v in week4.items()}


@pytest.mark.parametrize("mg", [500, pytest.param(250, marks=pytest.mark.xfail(
    strict=True, reason="known: the model lowers ER by 24% at 250 mg monthly, NEWEST saw 14% "
                        "(both assays); FACT's 250 mg arm inherits the overstatement"))])
def test_fulvestrant_lowers_er_as_in_the_newest_biopsies(er_fall, mg):
    lo, hi = NEWEST_WEEK4[mg]
    assert lo - MARGIN <= er_fall[mg] <= hi + MARGIN, (mg, er_fall[mg])


def test_the_higher_dose_lowers_er_more(er_fall):
    assert er_fall[500] > er_fall[250] + 0.1


@pytest.mark.parametrize("mg", [500, 250])
@pytest.mark.xfail(strict=True, reason="known (issue #11): the model's proliferation falls by "
                                       "34% (500 mg) and 11% (250 mg) at week 4, NEWEST's Ki67 "
                                       "by 79% and 47%; the virtual trials' lesion mapping "
                                       "cannot take NEWEST's response rates (docs/trials.md)")
def test_fulvestrant_lowers_proliferation_as_ki67_fell_in_newest(week4, mg):
    assert abs(week4[mg]["proliferation"] - NEWEST_KI67_WEEK4[mg]) <= KI67_MARGIN, week4[mg]


def test_the_higher_dose_lowers_proliferation_more(week4):
    assert week4[500]["proliferation"] > week4[250]["proliferation"] + 0.1
