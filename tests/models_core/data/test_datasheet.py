"""Datasheet, drift and reweighing/resampling, checked against direct pandas computations on the same rows."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models_core.data.datasheet import build_datasheet
from models_core.data.drift import dataset_drift, population_stability_index
from models_core.data.reweighing import reweighing_weights, stratified_resample
from models_core.data.rows import MISSING
from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.errors import InputError


@pytest.fixture(autouse=True)
def _artifacts_in_tmp():
    """Overrides the Django-settings fixture of tests/conftest.py: models_core tests run without Django."""


SENSITIVE = ["gender", "age_band"]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return hiring_rows()


@pytest.fixture(scope="module")
def sheet(rows) -> dict:
    return build_datasheet(rows, "text", "hired", SENSITIVE, seed=0, n_boot=1000)


@pytest.fixture(scope="module")
def frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["pos"] = (df["hired"] == "yes").astype(float)
    return df


def _pandas_table(df: pd.DataFrame, attrs: list[str], weight: str | None = None) -> pd.DataFrame:
    w = df[weight] if weight else pd.Series(1.0, index=df.index)
    tmp = df.assign(_w=w, _wp=w * df["pos"])
    g = tmp.groupby(attrs)
    out = pd.DataFrame({"rows": g.size(), "w": g["_w"].sum(), "wp": g["_wp"].sum()})
    out["share"] = out["w"] / tmp["_w"].sum()
    out["rate"] = out["wp"] / out["w"]
    out.index = [" × ".join(k) if isinstance(k, tuple) else k for k in out.index]
    return out


def test_shares_rates_and_counts_match_pandas_for_every_slice(sheet, frame):
    assert set(sheet["slices"]) == {"gender", "age_band", "gender × age_band"}
    assert sheet["n_rows"] == len(frame)
    for name, attrs in [("gender", ["gender"]), ("age_band", ["age_band"]),
                        ("gender × age_band", ["gender", "age_band"])]:
        expected = _pandas_table(frame, attrs)
        got = sheet["slices"][name]["groups"]
        assert set(got) == set(expected.index)
        for group, row in expected.iterrows():
            assert got[group]["rows"] == row["rows"]
            assert got[group]["positive_rows"] == row["wp"]
            assert got[group]["share"]["estimate"] == pytest.approx(row["share"], abs=1e-12)
            assert got[group]["positive_rate"]["estimate"] == pytest.approx(row["rate"], abs=1e-12)
        ref = sheet["slices"][name]["reference_group"]
        assert ref == expected["share"].idxmax()
        for group, row in expected.iterrows():
            gap = got[group]["positive_rate_gap"]["estimate"]
            assert gap == pytest.approx(row["rate"] - expected.loc[ref, "rate"], abs=1e-12)
            assert got[group]["share_gap"]["estimate"] == pytest.approx(
                row["share"] - expected.loc[ref, "share"], abs=1e-12)
    inter = sheet["slices"]["gender × age_band"]
    assert inter["kind"] == "intersection" and inter["n_groups"] == 6 and inter["n_empty_cells"] == 0
    assert inter["groups"]["female × 45+"]["values"] == {"gender": "female", "age_band": "45+"}


def test_injected_gender_gap_has_a_confidence_interval_excluding_zero(sheet):
    groups = sheet["slices"]["gender"]["groups"]
    female, male = groups["female"], groups["male"]
    assert female["positive_rate"]["estimate"] == pytest.approx(0.25, abs=0.03)
    assert male["positive_rate"]["estimate"] == pytest.approx(0.44, abs=0.03)
    reference = sheet["slices"]["gender"]["reference_group"]
    other = groups["female" if reference == "male" else "male"]
    lo, hi = other["positive_rate_gap"]["ci"]
    assert lo <= other["positive_rate_gap"]["estimate"] <= hi
    # The gap is the non-reference minus the reference group; either way round it excludes zero.
    assert hi < 0 or lo > 0
    assert abs(other["positive_rate_gap"]["estimate"]) > 0.15


def test_bootstrap_intervals_agree_with_the_normal_approximation(sheet):
    for group in sheet["slices"]["gender"]["groups"].values():
        p, n = group["positive_rate"]["estimate"], group["labelled_rows"]
        lo, hi = group["positive_rate"]["ci"]
        half = 1.96 * math.sqrt(p * (1 - p) / n)
        assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
        assert lo < p < hi
        s, total = group["share"]["estimate"], sheet["n_rows"]
        lo, hi = group["share"]["ci"]
        assert (hi - lo) / 2 == pytest.approx(1.96 * math.sqrt(s * (1 - s) / total), rel=0.15)


def test_every_interval_is_ordered_and_contains_its_estimate(sheet):
    for sl in sheet["slices"].values():
        for group in sl["groups"].values():
            for key in ("share", "positive_rate", "share_gap", "positive_rate_gap"):
                lo, hi = group[key]["ci"]
                assert lo <= hi
                assert lo - 1e-12 <= group[key]["estimate"] <= hi + 1e-12


def test_datasheet_is_json_and_deterministic_for_a_seed(rows, sheet):
    json.dumps(sheet, allow_nan=False)
    again = build_datasheet(rows, "text", "hired", SENSITIVE, seed=0, n_boot=1000)
    assert again == sheet
    other = build_datasheet(rows, "text", "hired", SENSITIVE, seed=1, n_boot=1000)
    assert other["slices"]["gender"]["groups"]["female"]["positive_rate"]["ci"] != \
        sheet["slices"]["gender"]["groups"]["female"]["positive_rate"]["ci"]


def test_reweighing_weights_follow_kamiran_calders_formula(rows, frame):
    w = np.array(reweighing_weights(rows, "hired", SENSITIVE))
    n = len(frame)
    p_g = frame.groupby(SENSITIVE)["hired"].transform("size") / n
    p_y = frame.groupby("hired")["hired"].transform("size") / n
    p_gy = frame.groupby(SENSITIVE + ["hired"])["hired"].transform("size") / n
    np.testing.assert_allclose(w, (p_g * p_y / p_gy).to_numpy(), rtol=1e-12)
    # Women's positives are under-represented, so they are up-weighted.
    female_yes = (frame["gender"] == "female") & (frame["hired"] == "yes")
    assert w[female_yes.to_numpy()].min() > 1.0


def test_reweighed_datasheet_shows_zero_weighted_gap_in_every_slice(rows, frame, sheet):
    w = reweighing_weights(rows, "hired", SENSITIVE)
    weighted = build_datasheet(rows, "text", "hired", SENSITIVE, weights=w, seed=0, n_boot=200)
    assert weighted["config"]["weighted"] is True
    overall = frame["pos"].mean()
    for name, sl in weighted["slices"].items():
        for group, entry in sl["groups"].items():
            assert abs(entry["positive_rate_gap"]["estimate"]) < 1e-12, (name, group)
            assert entry["positive_rate"]["estimate"] == pytest.approx(overall, abs=1e-12)
            # Shares are unchanged by reweighing.
            assert entry["share"]["estimate"] == pytest.approx(
                sheet["slices"][name]["groups"][group]["share"]["estimate"], abs=1e-12)
    # Pandas on the same weights agrees.
    table = _pandas_table(frame.assign(w=w), ["gender"], weight="w")
    assert table.loc["female", "rate"] == pytest.approx(table.loc["male", "rate"], abs=1e-12)


def test_arbitrary_weights_match_weighted_pandas(rows, frame):
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(rows))
    weighted = build_datasheet(rows, "text", "hired", SENSITIVE, weights=w.tolist(), seed=0, n_boot=50)
    expected = _pandas_table(frame.assign(w=w), ["gender", "age_band"], weight="w")
    got = weighted["slices"]["gender × age_band"]["groups"]
    for group, row in expected.iterrows():
        assert got[group]["share"]["estimate"] == pytest.approx(row["share"], abs=1e-12)
        assert got[group]["positive_rate"]["estimate"] == pytest.approx(row["rate"], abs=1e-12)
        assert got[group]["weight"] == pytest.approx(row["w"], rel=1e-12)
    assert weighted["total_weight"] == pytest.approx(w.sum())
    dist = weighted["labels"]["distribution"]
    assert dist["yes"]["weighted_share"] == pytest.approx(w[frame["pos"] == 1].sum() / w.sum())
    assert dist["yes"]["share"] == pytest.approx(frame["pos"].mean())


def test_stratified_resample_brings_every_group_to_the_overall_rate(rows, frame):
    out = stratified_resample(rows, "hired", SENSITIVE, seed=5)
    assert stratified_resample(rows, "hired", SENSITIVE, seed=5) == out
    assert stratified_resample(rows, "hired", SENSITIVE, seed=6) != out
    res = pd.DataFrame(out)
    # Group sizes are kept exactly; labels follow the overall rate up to one row of rounding.
    pd.testing.assert_series_equal(res.groupby(SENSITIVE).size(), frame.groupby(SENSITIVE).size())
    overall = frame["pos"].mean()
    rates = res.assign(pos=res["hired"] == "yes").groupby(SENSITIVE)["pos"].agg(["mean", "size"])
    assert ((rates["mean"] - overall).abs() <= 1 / rates["size"]).all()
    by_gender = res.assign(pos=res["hired"] == "yes").groupby("gender")["pos"].mean()
    assert abs(by_gender["female"] - by_gender["male"]) < 0.01
    # Every resampled row is an original row.
    originals = {r["subject_id"]: r for r in rows}
    assert all(originals[r["subject_id"]] == r for r in out)


def test_missing_values_per_column_match_pandas():
    rows = [
        {"text": "a b", "g": "x", "y": 1, "note": None},
        {"text": "", "g": "x", "y": 0, "note": float("nan")},
        {"text": "c", "g": None, "y": 1},
        {"text": "d", "g": "y", "y": None, "note": "  "},
        {"text": None, "g": "y", "y": 0, "note": "ok"},
    ] * 10
    sheet = build_datasheet(rows, "text", "y", ["g"], n_boot=50, min_group_size=1)
    df = pd.DataFrame(rows)
    blank = df.map(lambda v: isinstance(v, str) and not v.strip())
    expected = (df.isna() | blank).sum()
    assert list(sheet["missing"]) == ["text", "g", "y", "note"]
    for col, count in expected.items():
        assert sheet["missing"][col]["rows"] == count
        assert sheet["missing"][col]["share"] == pytest.approx(count / len(rows))
    groups = sheet["slices"]["g"]["groups"]
    assert set(groups) == {"x", "y", MISSING}
    assert groups[MISSING]["rows"] == 10
    # Unlabelled rows count towards shares but not towards label rates.
    assert groups["y"]["labelled_rows"] == 10 and groups["y"]["rows"] == 20
    assert sheet["labels"]["missing_rows"] == 10
    assert sheet["labels"]["positive_label"] == "1"
    assert sheet["text_length"]["rows"] == 30


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z\s]", " ", text.lower()).split())


def test_exact_and_near_duplicates_match_pandas(rows):
    extra = [dict(rows[0], subject_id="D1"), dict(rows[0], subject_id="D2"),
             dict(rows[1], subject_id="D3", hired="yes" if rows[1]["hired"] == "no" else "no"),
             dict(rows[2], subject_id="D4", text=rows[2]["text"].upper().replace(".", " !")),
             dict(rows[3], subject_id="D5", text=re.sub(r"\d+", "99", rows[3]["text"]))]
    data = rows + extra
    sheet = build_datasheet(data, "text", "hired", ["gender"], n_boot=50)
    df = pd.DataFrame(data)
    exact = sheet["duplicates"]["exact"]
    assert exact["duplicate_rows"] == df["text"].duplicated().sum()
    counts = df["text"].value_counts()
    assert exact["groups"] == (counts > 1).sum()
    assert exact["rows_in_groups"] == counts[counts > 1].sum()
    assert exact["largest"][0]["size"] == 3 and exact["largest"][0]["rows"][0] == 0
    conflicts = df.groupby("text")["hired"].nunique()
    assert exact["conflicting_label_groups"] == (conflicts > 1).sum() >= 1
    near = sheet["duplicates"]["near"]
    norm = df["text"].map(_normalise)
    assert near["duplicate_rows"] == norm.duplicated().sum()
    assert near["groups"] == (norm.value_counts() > 1).sum()
    assert near["duplicate_rows"] >= exact["duplicate_rows"] + 2


def test_text_length_statistics_match_pandas(sheet, frame):
    chars = frame["text"].str.len()
    words = frame["text"].str.split().str.len()
    for key, series in (("chars", chars), ("words", words)):
        got = sheet["text_length"][key]
        assert got["min"] == series.min() and got["max"] == series.max()
        assert got["q1"] == pytest.approx(series.quantile(0.25))
        assert got["median"] == pytest.approx(series.median())
        assert got["q3"] == pytest.approx(series.quantile(0.75))
        assert got["mean"] == pytest.approx(series.mean())
        assert sum(got["histogram"]["counts"]) == len(series)
        assert len(got["histogram"]["edges"]) == len(got["histogram"]["counts"]) + 1
        counts, _ = np.histogram(series, bins=got["histogram"]["edges"])
        assert counts.tolist() == got["histogram"]["counts"]


def test_label_distribution_matches_pandas(sheet, frame):
    counts = frame["hired"].value_counts()
    for label, entry in sheet["labels"]["distribution"].items():
        assert entry["rows"] == counts[label]
        assert entry["share"] == pytest.approx(counts[label] / len(frame))
    assert sheet["labels"]["positive_label"] == "yes"


def test_small_groups_are_flagged(rows, frame):
    sheet = build_datasheet(rows, "text", "hired", SENSITIVE, n_boot=50, min_group_size=400)
    sizes = frame.groupby(SENSITIVE).size()
    expected = {f"{g} × {a}" for (g, a), s in sizes.items() if s < 400}
    assert expected
    flagged = {s["group"] for s in sheet["small_groups"] if s["slice"] == "gender × age_band"}
    assert flagged == expected
    for group, entry in sheet["slices"]["gender × age_band"]["groups"].items():
        assert entry["too_small"] == (group in expected)


def test_one_label_groups_are_flagged():
    rows = [{"t": "x", "g": "a", "y": "yes"}] * 40 + [{"t": "x", "g": "b", "y": "no"}] * 40 \
        + [{"t": "x", "g": "b", "y": "yes"}] * 5
    sheet = build_datasheet(rows, "t", "y", ["g"], n_boot=50)
    flags = {s["group"]: s["flags"] for s in sheet["small_groups"]}
    assert flags == {"a": ["no negative label"]}


def test_vocabulary_surfaces_the_gendered_tokens(sheet):
    vocab = sheet["vocabulary"]["attributes"]["gender"]
    female = [t["term"] for t in vocab["female"]]
    male = [t["term"] for t in vocab["male"]]
    assert female[0] == "she" and male[0] == "he"
    assert "women's" in female[:3] and "men's" in male[:3]
    assert all(t["z"] > 0 for t in vocab["female"])
    assert [t["z"] for t in vocab["female"]] == sorted((t["z"] for t in vocab["female"]), reverse=True)


def test_progress_is_reported_up_to_completion(rows):
    seen = []
    build_datasheet(rows[:300], "text", "hired", SENSITIVE, n_boot=50, progress=seen.append)
    assert seen and all({"stage", "percent"} <= set(e) for e in seen)
    assert seen[-1]["percent"] == 100.0
    assert [e["percent"] for e in seen] == sorted(e["percent"] for e in seen)


@pytest.mark.parametrize("kwargs, message", [
    ({"sensitive": ["nope"]}, "not found"),
    ({"weights": [1.0, 2.0]}, "weights"),
    ({"positive_label": "maybe"}, "positive_label"),
    ({"n_boot": 5}, "n_boot"),
])
def test_bad_input_raises_input_error(rows, kwargs, message):
    args = {"rows": rows[:100], "text_column": "text", "label_column": "hired", "sensitive": ["gender"],
            **kwargs}
    with pytest.raises(InputError, match=message):
        build_datasheet(**args)


def test_ambiguous_positive_label_must_be_given():
    rows = [{"t": "x", "g": "a", "y": "cat"}, {"t": "y", "g": "b", "y": "dog"}] * 20
    with pytest.raises(InputError, match="pass positive_label"):
        build_datasheet(rows, "t", "y", ["g"], n_boot=50)
    sheet = build_datasheet(rows, "t", "y", ["g"], n_boot=50, positive_label="dog")
    assert sheet["slices"]["g"]["groups"]["b"]["positive_rate"]["estimate"] == 1.0


# -------------------------------------------------------------------------------------------- drift
def test_identical_samples_show_no_drift(rows):
    drift = dataset_drift(rows, [dict(r) for r in rows], "text", "hired", SENSITIVE)
    json.dumps(drift, allow_nan=False)
    for col in ("gender", "age_band", "hired"):
        assert drift["columns"][col]["psi"] == 0.0
        assert drift["columns"][col]["level"] == "stable"
    assert drift["columns"]["subject_id"]["kind"] == "skipped"
    assert drift["label_shift"]["psi"] == 0.0 and drift["label_shift"]["chi2_p_value"] == pytest.approx(1.0)
    assert drift["text_length"]["chars"]["ks_statistic"] == 0.0
    assert drift["text_length"]["chars"]["p_value"] == pytest.approx(1.0)
    assert drift["new_groups"] == [] and drift["vanished_groups"] == []
    assert drift["vocabulary"]["oov_token_share"] == 0.0


def test_shifted_sample_shows_large_psi_small_ks_p_and_group_changes(rows):
    shifted = hiring_rows(SyntheticSpec(n_rows=1000, seed=11, female_share=0.9))
    for r in shifted:
        r["text"] += " Additionally fluent in spanish and portuguese with international relocation experience."
        if r["age_band"] == "45+":
            r["age_band"] = "65+"
    drift = dataset_drift(rows, shifted, "text", "hired", SENSITIVE)
    assert drift["columns"]["gender"]["psi"] > 0.25 and drift["columns"]["gender"]["level"] == "major"
    assert drift["text_length"]["chars"]["p_value"] < 1e-6
    assert drift["text_length"]["words"]["p_value"] < 1e-6
    assert {"slice": "age_band", "group": "65+"} in drift["new_groups"]
    assert {"slice": "age_band", "group": "45+"} in drift["vanished_groups"]
    assert "female × 65+" in drift["groups"]["gender × age_band"]["new"]
    assert "portuguese" in drift["vocabulary"]["new_terms"]
    # PSI against a direct computation with the same epsilon floor.
    a = pd.Series([r["gender"] for r in rows]).value_counts(normalize=True)
    b = pd.Series([r["gender"] for r in shifted]).value_counts(normalize=True)
    expected = float(((b - a) * np.log(b / a)).sum())
    assert drift["columns"]["gender"]["psi"] == pytest.approx(expected, rel=1e-12)


def test_label_shift_is_detected(rows):
    flipped = [dict(r, hired="yes") if i % 3 == 0 else dict(r) for i, r in enumerate(rows)]
    drift = dataset_drift(rows, flipped, "text", "hired", SENSITIVE)
    shift = drift["label_shift"]
    assert shift["psi"] > 0.1 and shift["chi2_p_value"] < 1e-6
    share_yes = sum(r["hired"] == "yes" for r in flipped) / len(flipped)
    assert shift["shares"]["yes"]["b"] == pytest.approx(share_yes)


def test_psi_of_a_category_on_one_side_only_is_finite_and_large():
    psi, shares = population_stability_index(["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["c"] * 50)
    assert math.isfinite(psi) and psi > 1.0
    assert shares["c"] == {"a": 0.0, "b": 0.5}


CELLS = [(g, h, y) for g in "abc" for h in "xy" for y in (0, 1, 2)]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=len(CELLS), max_size=len(CELLS)))
def test_reweighing_makes_label_independent_of_every_slice(sizes):
    # Every (group, label) cell has rows: reweighing can only balance cells that exist.
    df = pd.DataFrame([cell for cell, k in zip(CELLS, sizes) for _ in range(k)], columns=["g", "h", "y"])
    rows = df.to_dict("records")
    df["w"] = reweighing_weights(rows, "y", ["g", "h"])
    overall = df.groupby("y")["w"].sum() / df["w"].sum()
    for attrs in (["g"], ["h"], ["g", "h"]):
        table = df.pivot_table(index=attrs, columns="y", values="w", aggfunc="sum", fill_value=0.0)
        rates = table.div(table.sum(axis=1), axis=0)
        for label in overall.index:
            np.testing.assert_allclose(rates[label], overall[label], atol=1e-12)
    # Group shares are unchanged.
    np.testing.assert_allclose(df.groupby(["g", "h"])["w"].sum() / df["w"].sum(),
                               df.groupby(["g", "h"]).size() / len(df), atol=1e-12)


def test_reweighing_cannot_create_a_missing_cell():
    rows = [{"g": "a", "y": 0}] * 4 + [{"g": "b", "y": 1}] * 3 + [{"g": "b", "y": 0}] * 3
    sheet = build_datasheet([dict(r, t="x y z") for r in rows], "t", "y", ["g"], n_boot=50,
                            weights=reweighing_weights(rows, "y", ["g"]), min_group_size=1)
    assert sheet["slices"]["g"]["groups"]["a"]["positive_rate"]["estimate"] == 0.0
    assert "no positive label" in sheet["slices"]["g"]["groups"]["a"]["flags"]


def test_boolean_labels_and_numeric_groups_are_reported_as_strings():
    rows = [{"t": "one two", "band": i % 3, "y": i % 4 == 0} for i in range(120)]
    sheet = build_datasheet(rows, "t", "y", ["band"], n_boot=50)
    json.dumps(sheet, allow_nan=False)
    assert sheet["labels"]["positive_label"] == "True"
    groups = sheet["slices"]["band"]["groups"]
    assert set(groups) == {"0", "1", "2"}
    df = pd.DataFrame(rows)
    for band, rate in df.groupby("band")["y"].mean().items():
        assert groups[str(band)]["positive_rate"]["estimate"] == pytest.approx(rate)
