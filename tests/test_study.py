"""The study's summary: seed spread beside template spread, and the four claims decided from the
numbers (so a claim that does not hold is reported as such)."""

from cabench.study import summarise, write_outputs


def _stats(mean: float, std: float) -> dict:
    return {
        "n_templates": 65,
        "auc": {"mean": mean, "std": std, "min": mean - 0.05},
        "f1": {"mean": 0.5},
        "auc_ci": {"mean": {"low": mean - 0.02, "high": mean + 0.02}},
    }


def _document(cagcl_mean: float, fvlp_mean: float) -> dict:
    results = []
    for seed, jitter in ((0, 0.0), (1, 0.01)):
        for dataset in ("synth-ct-rate", "synth-rad-chestct"):
            for model, mean, std in (("cagcl", cagcl_mean, 0.01), ("fvlp", fvlp_mean, 0.03)):
                results.append({
                    "model": f"{model}-s{seed}", "dataset": dataset,
                    "families": {"all": _stats(mean + jitter, std)},
                })  # fmt: skip
    histogram = {"counts": [1, 5, 2], "edges": [-1.0, 0.0, 0.5, 1.0]}
    cross = {"n": 8, "mean": 0.3, "std": 0.1, "skewness": 0.0, "kurtosis": 0.1,
             "histogram": histogram}  # fmt: skip
    collapse = {
        f"{m}-s{s}": {"prompts": {"by_anatomy": {"cross": {**cross, "mean": c}}}}
        for m, c in (("cagcl", 0.2), ("fvlp", 0.9))
        for s in (0, 1)
    }
    return {"run_id": "r", "results": results, "collapse": collapse}


def test_summary_reports_seed_spread_and_claims_that_hold():
    text = summarise(_document(0.70, 0.60), ("fvlp", "cagcl"), (0, 1))
    assert "| cagcl | 0.705 ± 0.007 | [0.680, 0.720] | 0.010 ± 0.000 |" in text
    claims = text.split("## The four claims")[1]
    assert claims.count("did not hold") == 0 and claims.count("held") == 5


def test_summary_reports_claims_that_do_not_hold():
    text = summarise(_document(0.55, 0.60), ("fvlp", "cagcl"), (0, 1))
    claims = text.split("## The four claims")[1]
    assert "higher internal mean AUC | 0.555 ± 0.007 | 0.605 ± 0.007 | did not hold" in claims


def test_outputs_are_written(tmp_path):
    summary = write_outputs(_document(0.7, 0.6), ("fvlp", "cagcl"), (0, 1), tmp_path / "study")
    assert summary.read_text().startswith("# Study summary")
    assert (tmp_path / "study" / "collapse.png").stat().st_size > 1000


def test_claims_compare_the_pair_given():
    document = _document(0.60, 0.58)
    text = summarise(document, ("fvlp", "cagcl"), (0, 1), pair=("fvlp", "cagcl"))
    assert "## The four claims, fvlp vs cagcl" in text and "| claim | fvlp | cagcl |" in text
