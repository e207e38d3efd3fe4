"""The regression gate: `cabench baseline write` and `cabench check` pass, fail and refuse when they
should. The end-to-end test uses a real run of a trained tiny model; the rules are unit-tested on
small hand-made documents so each can fail on its own."""

import json

import pytest

from cabench.check import Limits, baseline_entries, compare
from cabench.cli import main
from cabench.errors import UserError
from cabench.eval.run import RunOptions, run


def _document(std: float = 0.02, mean: float = 0.7, worst: float = 0.65, ci: float = 0.01) -> dict:
    def stats() -> dict:
        return {
            "n_templates": 5,
            "auc": {"mean": mean, "std": std, "min": worst},
            "auc_ci": {
                name: {"low": value - ci, "high": value + ci}
                for name, value in (("mean", mean), ("std", std), ("min", worst))
            },
            "sampling_floor": 0.01,
        }

    return {
        "run_id": "r",
        "threshold_policy": "youden",
        "augment": None,
        "families": [{"name": "ctclip", "content_hash": "h1"}],
        "datasets": [{"name": "synth-ct-rate", "fingerprint": "fp"}],
        "results": [{
            "model": "fvlp", "dataset": "synth-ct-rate", "findings": ["Emphysema"],
            "families": {"ctclip": stats(), "all": stats()},
        }],
    }  # fmt: skip


def _baseline(document: dict) -> dict:
    return {"run_id": "b", "threshold_policy": "youden", "entries": baseline_entries(document)}


def test_identical_statistics_pass():
    verdicts = compare(_baseline(_document()), _document(), Limits())
    assert verdicts and not any(v.regressed for v in verdicts)


def test_std_increase_beyond_tolerance_and_noise_regresses():
    verdicts = compare(_baseline(_document(std=0.02)), _document(std=0.08), Limits())
    regressed = {(v.family, v.statistic) for v in verdicts if v.regressed}
    assert regressed == {("ctclip", "auc_std"), ("all", "auc_std")}


def test_change_within_sampling_noise_passes():
    # past the 0.01 tolerance, but the bootstrap intervals (+-0.05) say it is noise
    base, now = _document(std=0.02, ci=0.05), _document(std=0.05, ci=0.05)
    assert not any(v.regressed for v in compare(_baseline(base), now, Limits()))


def test_change_within_tolerance_passes():
    base, now = _document(mean=0.70, ci=0.0), _document(mean=0.69, ci=0.0)
    assert not any(v.regressed for v in compare(_baseline(base), now, Limits()))
    strict = Limits(max_mean_drop=0.005)
    assert any(v.regressed for v in compare(_baseline(base), now, strict))


def test_improvements_never_fail():
    base, now = _document(std=0.05, mean=0.6, worst=0.5), _document(std=0.0, mean=0.9, worst=0.9)
    assert not any(v.regressed for v in compare(_baseline(base), now, Limits()))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("family_hash", "other", "prompt family content"),
        ("dataset_fingerprint", "other", "dataset fingerprint"),
        ("findings", ["Atelectasis"], "scored findings"),
    ],
)
def test_incomparable_sides_are_named(field, value, message):
    baseline = _baseline(_document())
    baseline["entries"][0][field] = value
    with pytest.raises(UserError, match=message):
        compare(baseline, _document(), Limits())


def test_threshold_policy_mismatch_says_how_to_rerun():
    baseline = _baseline(_document())
    baseline["threshold_policy"] = "ctclip"
    with pytest.raises(UserError, match="--threshold ctclip"):
        compare(baseline, _document(), Limits())


def test_missing_model_is_incomparable():
    baseline = _baseline(_document())
    baseline["entries"][0]["model"] = "cagcl"
    with pytest.raises(UserError, match="'cagcl'.*not in this run"):
        compare(baseline, _document(), Limits())


def test_gate_end_to_end(small_sites, trained_tiny, tmp_path, capsys):
    """A real run passes against its own baseline, fails against a deliberately better one (the
    same as a degraded model), and refuses a baseline from a different prompt family."""
    store = tmp_path / "r.sqlite"
    run(RunOptions(
        models=["fvlp"], datasets=["synth-ct-rate"], roots=dict(small_sites),
        prompts=["ctclip", "clinical"], augment="partial:n=2",
        checkpoints={"fvlp": trained_tiny["fvlp"]}, bootstrap=50, store=store,
    ))  # fmt: skip
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "write", "--store", str(store), "--out", str(baseline)]) == 0
    written = json.loads(baseline.read_text())
    assert written["schema"] == "cabench.baseline/1"
    assert {e["family"] for e in written["entries"]} == {"ctclip", "clinical", "all"}

    check = ["check", "--store", str(store), "--baseline"]
    assert main([*check, str(baseline)]) == 0
    assert "0 of" in capsys.readouterr().out

    better = json.loads(baseline.read_text())
    entry = next(e for e in better["entries"] if e["family"] == "clinical")
    entry["auc_std"], entry["auc_std_ci"] = 0.0, [0.0, 0.0]
    entry["auc_mean"], entry["auc_mean_ci"] = 0.99, [0.99, 0.99]
    degraded = tmp_path / "degraded.json"
    degraded.write_text(json.dumps(better))
    assert main([*check, str(degraded)]) == 1
    out = capsys.readouterr().out
    assert "| fvlp | synth-ct-rate | clinical | auc_mean |" in out and "REGRESSED" in out

    other = json.loads(baseline.read_text())
    other["entries"][0]["family_hash"] = "0" * 64
    incomparable = tmp_path / "incomparable.json"
    incomparable.write_text(json.dumps(other))
    assert main([*check, str(incomparable)]) == 2
    captured = capsys.readouterr()
    assert "prompt family content differs" in captured.err + captured.out


def test_missing_or_broken_baseline_is_bad_input(tmp_path, capsys):
    assert main(["check", "--baseline", str(tmp_path / "none.json")]) == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["check", "--baseline", str(broken)]) == 2
    captured = capsys.readouterr()
    assert "not valid JSON" in captured.err + captured.out
