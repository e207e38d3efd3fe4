"""The report's frames against the stored run documents, and the loader's user errors."""

from __future__ import annotations

import copy
import math

import pytest

from cabench.errors import UserError
from cabench.report.load import load_runs, view_of
from cabench.report.tables import build_tables
from cabench.store import Store


def close(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)


def pick(frame, entry):
    """The rows of ``frame`` for one result entry (its model and dataset)."""
    return frame[(frame["model"] == entry["model"]) & (frame["dataset"] == entry["dataset"])]


@pytest.fixture(scope="module")
def full(stored_runs):
    document = Store(stored_runs.store).load_run(stored_runs.full)
    view = view_of(document)
    return document, build_tables([view])


def test_leaderboard_matches_the_document(full):
    document, tables = full
    board = tables["leaderboard"]
    assert len(board) == len(document["results"]) == 4
    for entry in document["results"]:
        row = pick(board, entry)
        assert len(row) == 1
        row = row.iloc[0]
        stats = entry["families"]["all"]
        assert close(row["auc_mean"], stats["auc"]["mean"])
        assert close(row["auc_std"], stats["auc"]["std"])
        assert close(row["auc_min"], stats["auc"]["min"])
        assert close(row["auc_range"], stats["auc"]["range"])
        assert close(row["f1_mean"], stats["f1"]["mean"])
        assert close(row["auc_ci_low"], stats["auc_ci"]["mean"]["low"])
        assert close(row["auc_ci_high"], stats["auc_ci"]["mean"]["high"])
        assert close(row["sampling_floor"], stats["sampling_floor"])
        worst = stats["auc"]["worst_template"]
        assert row["worst_template"] == worst
        source = next(t for t in document["templates"] if t["template_id"] == worst)
        assert row["worst_template_text"] == source["positive_source"]
        comparison = document["comparisons"][entry["dataset"]].get(entry["model"])
        if entry["model"] == document["baseline_model"]:
            assert comparison is None and math.isnan(row["delta_mean"])
        else:
            assert close(row["delta_mean"], comparison["all"]["mean"]["point"])
            assert close(row["delta_mean_low"], comparison["all"]["mean"]["low"])
            assert close(row["delta_worst_high"], comparison["all"]["worst"]["high"])
    # best model first within each dataset
    for _, part in board.groupby("dataset", sort=False):
        assert list(part["auc_mean"]) == sorted(part["auc_mean"], reverse=True)


def test_template_and_finding_tables_match(full):
    document, tables = full
    scores, findings = tables["template_scores"], tables["per_finding"]
    n_templates = len(document["templates"])
    assert len(scores) == n_templates * len(document["results"])
    entry = document["results"][-1]
    part = pick(scores, entry)
    ci = entry["families"]["all"]["auc_ci"]["per_template"]
    for t, template in enumerate(entry["per_template"]):
        row = part.iloc[t]
        assert row["template_id"] == template["template_id"]
        assert close(row["auc"], template["macro"]["auc"])
        assert close(row["auc_ci_low"], ci["low"][t])
    mine = pick(findings, entry)
    assert list(mine["finding"]) == [f for f in entry["findings"] if f in entry["per_finding"]]
    for _, row in mine.iterrows():
        stats = entry["per_finding"][row["finding"]]
        assert close(row["auc_std"], stats["auc_std"])
        assert row["positives"] == stats["positives"]


def test_families_collapse_cross_dataset_and_provenance(full):
    document, tables = full
    families = tables["families"]
    first = families.groupby(["dataset", "model"], sort=False)["family"].first()
    assert set(first) == {"all"}
    entry = document["results"][0]
    row = pick(families, entry)
    organ = row[row["family"] == "organ"].iloc[0]
    assert close(organ["flip_rate"], entry["families"]["organ"]["flip_rate"])
    collapse = tables["collapse"]
    prompts = collapse[collapse["source"].eq("prompts by anatomy") & collapse["pairs"].eq("cross")]
    model = document["models"][0]["name"]
    expected = document["collapse"][model]["prompts"]["by_anatomy"]["cross"]
    got = prompts[prompts["model"] == model].iloc[0]
    assert close(got["kurtosis"], expected["kurtosis"]) and got["n"] == expected["n"]
    assert "reports by anatomy" in set(collapse["source"])
    cross = tables["cross_dataset"]
    sites = {(r.model, r.dataset): r.site for r in cross.itertuples()}
    assert sites[("dummy-global", "synth-ct-rate")] == "internal"
    assert sites[("dummy-global", "synth-rad-chestct")] == "external"
    provenance = tables["provenance"].set_index("key")[document["run_id"]]
    assert provenance["git_commit"] == document["provenance"]["git_commit"]
    assert provenance["threshold_policy"] == document["threshold_policy"]
    assert provenance["seed"] == str(document["seed"])
    templates = tables["templates"]
    assert list(templates["template_id"]) == [t["template_id"] for t in document["templates"]]


def test_missing_optional_parts_drop_their_columns(stored_runs):
    document = Store(stored_runs.store).load_run(stored_runs.small)  # bootstrap 0, one model
    tables = build_tables([view_of(document)])
    board = tables["leaderboard"]
    for column in ("auc_ci_low", "auc_ci_high", "sampling_floor", "delta_mean"):
        assert column not in board.columns
    assert "auc_ci_low" not in tables["template_scores"].columns
    assert "rank_stability" not in tables  # needs two models
    stripped = copy.deepcopy(document)
    for key in ("collapse", "cross_dataset", "comparisons", "rank_stability", "timings"):
        stripped.pop(key)
    for entry in stripped["results"]:
        entry.pop("per_finding")
    tables = build_tables([view_of(stripped)])
    assert {"collapse", "cross_dataset", "per_finding"}.isdisjoint(tables)
    assert len(tables["leaderboard"]) == 1


def test_several_runs_side_by_side(stored_runs):
    views = load_runs(stored_runs.store, [stored_runs.full, stored_runs.small])
    board = build_tables(views)["leaderboard"]
    dummy = board[(board["model"] == "dummy") & (board["dataset"] == "synth-ct-rate")]
    assert list(dummy["run"]) == [stored_runs.full, stored_runs.small]
    assert dummy.index[1] == dummy.index[0] + 1  # adjacent rows


def test_loader_errors_are_one_line_user_errors(stored_runs, tmp_path):
    with pytest.raises(UserError, match="no results store"):
        load_runs(tmp_path / "absent.sqlite", None)
    assert not (tmp_path / "absent.sqlite").exists()
    with pytest.raises(UserError, match="matches no run"):
        load_runs(stored_runs.store, ["nope"])
    with pytest.raises(UserError, match="listed twice"):
        load_runs(stored_runs.store, [stored_runs.full, stored_runs.full])
    latest = Store(stored_runs.store).resolve("latest")
    assert [v.run_id for v in load_runs(stored_runs.store, None)] == [latest]
    with pytest.raises(UserError, match="schema"):
        view_of({"schema": "other/1", "run_id": "x"})
    with pytest.raises(UserError, match="lacks results"):
        view_of({"schema": "cabench.run/1", "run_id": "x", "datasets": [], "models": [],
                 "templates": []})  # fmt: skip
