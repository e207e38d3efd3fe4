import math

import numpy as np

from cabench.diagnose import chance_test, diagnose, main


def test_diagnosis_rows_for_anatomy_and_global_models(trained_tiny, small_sites):
    root = small_sites["synth-ct-rate"]
    for family in ("fvlp", "clip"):
        rows = diagnose(trained_tiny[family], "synth-ct-rate", root)
        assert rows, family
        for row in rows:
            assert row.positives > 0
            assert (row.anatomy is None) == (family == "clip")
            for value in (row.prompt, row.report, row.probe):
                assert math.isnan(value) or 0.0 <= value <= 1.0
            assert (
                len(row.labels) == len(row.scores["prompt"]) and row.labels.sum() == row.positives
            )
        test = chance_test(rows, "prompt", permutations=99)
        assert abs(test.observed - np.nanmean([r.prompt for r in rows])) < 1e-12
        assert 0.01 <= test.p_value <= 1 and test.permutations == 99


def test_cli_prints_the_table_and_refuses_a_missing_checkpoint(
    trained_tiny, small_sites, tmp_path, capsys
):
    root = str(small_sites["synth-ct-rate"])
    assert main(["--checkpoint", str(trained_tiny["fvlp"]), "--root", root]) == 0
    out = capsys.readouterr().out
    assert "linear probe" in out and "macro" in out and "chance: p" in out
    assert "permutations of the" in out
    assert main(["--checkpoint", str(tmp_path / "nothing"), "--root", root]) == 2
    assert "error" in capsys.readouterr().err
