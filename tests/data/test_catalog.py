"""The dataset catalog: names, `open_dataset`, default roots, plugins, `cabench ls datasets`."""

from __future__ import annotations

import pytest

from cabench import paths
from cabench.cli import main
from cabench.data import open_dataset
from cabench.data.catalog import DATASETS, dataset_entry, dataset_rows
from cabench.data.ctrate import CTRateReader
from cabench.errors import DataError, UserError

NAMES = ["ct-rate", "rad-chestct", "synth-ct-rate", "synth-rad-chestct"]


def test_ls_datasets_lists_every_dataset_and_where(capsys):
    assert main(["ls", "datasets"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    rows = {r["name"]: r for r in dataset_rows()}
    assert set(NAMES) <= set(rows)
    assert all(rows[n]["present"] == "no" for n in NAMES)
    assert rows["ct-rate"]["where"] == str(paths.data_home() / "ct-rate")


def test_present_dataset_at_the_default_root(ctrate, radchest, monkeypatch, tmp_path):
    root, _ = ctrate(manifest=True)
    monkeypatch.setenv("CABENCH_DATA", str(root.parent))
    root.rename(root.parent / "synth-ct-rate")
    rows = {r["name"]: r for r in dataset_rows()}
    assert rows["synth-ct-rate"]["present"] == "yes"
    assert rows["ct-rate"]["present"] == "no"
    reader = open_dataset("synth-ct-rate")  # root defaults to $CABENCH_DATA/NAME
    assert reader.name == "synth-ct-rate" and reader.cases("valid")[0].dataset == "synth-ct-rate"


def test_unknown_name_suggests_the_close_one(cli_error):
    assert "did you mean 'rad-chestct'" in cli_error(
        ["data", "inspect", "--dataset", "rad-chest", "--root", "."]
    )
    with pytest.raises(UserError, match="did you mean 'ct-rate'"):
        open_dataset("ctrate")


def test_missing_synthetic_site_says_how_to_generate_it(tmp_path):
    with pytest.raises(DataError) as raised:
        open_dataset("synth-rad-chestct", tmp_path / "nowhere")
    message = str(raised.value)
    assert str(tmp_path / "nowhere") in message and "folder not found" in message
    assert "cabench data synth --name synth-rad-chestct" in message


def test_unknown_option_is_named(ctrate):
    root, _ = ctrate()
    with pytest.raises(UserError, match="no option 'layot': did you mean 'layout'"):
        open_dataset("ct-rate", root, layot="v1")
    with pytest.raises(UserError, match="no option 'calcification'"):
        open_dataset("ct-rate", root, calcification="merge")


def test_a_plugin_reader_class_is_wrapped(ctrate, monkeypatch):
    class MyReader(CTRateReader):
        """My site in the CT-RATE layout."""

        description = "my own site"

    monkeypatch.setitem(DATASETS._entries, "my-site", MyReader)
    entry = dataset_entry("my-site")
    assert entry.description == "my own site" and entry.reader_class() is MyReader
    root, _ = ctrate()
    reader = open_dataset("my-site", root)
    assert isinstance(reader, MyReader) and reader.name == "my-site"
    assert "my-site" in {r["name"] for r in dataset_rows()}
