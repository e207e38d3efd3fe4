"""`cabench data show`: a PNG with three planes, anatomy contours and finding overlays."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from cabench.cli import main
from cabench.data.show import _centre, render_case
from cabench.errors import DataError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sidecar(root, case_id, shape=(8, 16, 16)):
    field = np.zeros(shape, np.uint32)
    field[5:7, 3:6, 10:13] = 1 << 9  # Lung nodule, in the order of the manifest
    (root / "cabench_synth/findings").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / f"cabench_synth/findings/{case_id}.npz", findings=field)
    return field


def test_render_with_masks_and_findings(ctrate, tmp_path):
    root, _ = ctrate(masks="labelmap", manifest=True)
    plain = render_case("synth-ct-rate", root, "train_1_a_1", tmp_path / "plain.png")
    _sidecar(root, "train_1_a_1")
    out = render_case("synth-ct-rate", root, "train_1_a_1", tmp_path / "sub" / "case.png")
    assert out == tmp_path / "sub" / "case.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 900
    assert not np.array_equal(image, matplotlib.image.imread(plain))
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["case.png"]


def test_slices_go_through_the_findings():
    field = np.zeros((8, 16, 16), np.uint32)
    field[5:7, 3:6, 10:13] = 1
    assert _centre(field, field.shape) == (5, 4, 11)  # median voxel of the marked region
    assert _centre(None, (8, 16, 16)) == (4, 8, 8)


def test_cli_show_rad_chestct_without_masks(radchest, tmp_path, capsys):
    root, _ = radchest()
    out = tmp_path / "tst.png"
    args = ["data", "show", "--dataset", "rad-chestct", "--root", str(root), "--case", "tst00004"]
    assert main([*args, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    "case_id, out_name, expected",
    [
        ("train_1_a_9", "x.png", "has no case 'train_1_a_9': did you mean 'train_1_a_1'"),
        ("train_1_a_1", "x.jpg", "the output must be a .png file"),
    ],
)
def test_cli_show_bad_case_or_output(ctrate, cli_error, tmp_path, case_id, out_name, expected):
    root, _ = ctrate()
    args = ["data", "show", "--dataset", "ct-rate", "--root", root, "--case", case_id]
    assert expected in cli_error([*args, "--out", tmp_path / out_name])
    assert not (tmp_path / out_name).exists()


def test_failure_leaves_no_png_behind(ctrate, cli_error, tmp_path):
    root, _ = ctrate(manifest=True)
    _sidecar(root, "valid_1_a_1", shape=(3, 3, 3))
    out = tmp_path / "out" / "case.png"
    args = ["data", "show", "--dataset", "synth-ct-rate", "--root", root, "--case", "valid_1_a_1"]
    assert "does not fit the volume (8, 16, 16)" in cli_error([*args, "--out", out])
    assert not out.exists() and not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(DataError):
        render_case("synth-ct-rate", root, "valid_1_a_1", out)
