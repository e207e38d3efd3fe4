"""bench.gpu_train's CPU smoke check: --preset tiny --steps 3 --cases 8."""

from __future__ import annotations

import json
import math

from bench import gpu_train


def test_tiny_preset_smoke_run_on_cpu(tmp_path, capsys):
    out = tmp_path / "train.json"
    argv = ["--preset", "tiny", "--steps", "3", "--cases", "8", "--device", "cpu"]
    argv += ["--out", str(out)]
    assert gpu_train.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["warmup"] == 1
    assert [m["model"] for m in report["models"]] == ["clip", "fvlp", "cagcl"]
    for row in report["models"]:
        assert row["timed_steps"] == 2 and row["volumes_per_s"] > 0
        assert row["peak_gpu_memory_bytes"] is None and math.isfinite(row["final_loss"])
        assert row["input_shape"] == [32, 64, 64]
    assert report["reference"]["kind"] == "tiny" and report["reference"]["volumes_per_s"] > 0
    printed = capsys.readouterr().out
    assert "clip: " in printed and "volumes/s" in printed and "DESIGN.md anchor" in printed


def test_steps_must_exceed_warmup(capsys):
    import pytest

    with pytest.raises(SystemExit):
        gpu_train.parse_args(["--steps", "2", "--warmup", "2"])
    assert "must exceed --warmup" in capsys.readouterr().err


def test_device_scripts_parse_and_fetch_pinned_versions():
    import re
    import subprocess
    from pathlib import Path

    bench = Path(gpu_train.__file__).parent
    for script in ("device_check.sh", "gpu_wheels.sh", "gpu_image_tests.sh"):
        subprocess.run(["bash", "-n", str(bench / script)], check=True)  # syntax only
    pinned = (bench.parent / "constraints.txt").read_text()
    names = re.findall(r"\$\(pin (\S+)\)", (bench / "gpu_wheels.sh").read_text())
    assert sorted(names) == ["ftfy", "monai", "nibabel", "open_clip_torch", "wcwidth"]
    for name in names:
        assert re.search(rf"^{name}==", pinned, re.I | re.M), f"{name} is not in constraints.txt"


def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys):
    base = ["--preset", "tiny", "--steps", "3", "--device", "cpu"]
    assert gpu_train.main([*base, "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: synth-ct-rate: ") and "missing" in err and "Traceback" not in err
    assert gpu_train.main([*base, "--models", "fvpl"]) == 2
    assert "did you mean 'fvlp'" in capsys.readouterr().err
