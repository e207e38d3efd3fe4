"""`cabench run` end to end on small synthetic sites: document, store, caches, bad input."""

import json
import shutil
import sys
import textwrap

import numpy as np
import pytest

from cabench.cli import main
from cabench.eval.run import RunOptions, run
from cabench.store import Store

FAMILIES = ["ctclip", "clinical"]


@pytest.fixture
def options(small_sites, trained_tiny, tmp_path):
    def make(**overrides):
        base = dict(
            models=["fvlp", "dummy"],
            datasets=["synth-ct-rate", "synth-rad-chestct"],
            roots=dict(small_sites),
            prompts=FAMILIES,
            augment="partial:n=3",
            checkpoints={"fvlp": trained_tiny["fvlp"]},
            bootstrap=40,
            store=tmp_path / "r.sqlite",
        )
        return RunOptions(**{**base, **overrides})

    return make


def test_document_holds_what_the_readme_promises(options):
    document = run(options())
    assert document["schema"] == "cabench.run/1" and document["threshold_policy"] == "youden"
    assert {f["name"] for f in document["families"]} == set(FAMILIES)
    n_templates = len(document["templates"])
    assert n_templates > len(FAMILIES)  # augmentation added templates
    template = document["templates"][0]
    assert template["canonical"] and set(template["texts"]["Emphysema"]) == {
        "Emphysema is present.", "Emphysema is not present."
    }  # fmt: skip
    assert len(document["results"]) == 4
    for result in document["results"]:
        assert result["cube"]["shape"][1] == n_templates
        assert len(result["per_template"]) == n_templates
        row = result["per_template"][0]
        assert set(row["auc"]) == set(result["findings"]) and "f1" in row
        stats = result["families"]["all"]
        assert stats["auc"]["n_templates"] <= n_templates
        assert (
            stats["auc_ci"]["mean"]["low"]
            <= stats["auc"]["mean"]
            <= stats["auc_ci"]["mean"]["high"]
        )
        assert stats["sampling_floor"] > 0
    rad = next(d for d in document["datasets"] if d["name"] == "synth-rad-chestct")
    assert rad["split"] == "all" and "Medical material" not in rad["findings"]
    assert document["comparisons"]["synth-ct-rate"]["dummy"]["all"]["mean"]["low"] is not None
    assert document["collapse"]["fvlp"]["prompts"]["by_anatomy"]["cross"]["n"] > 0
    assert document["collapse"]["fvlp"]["image"]["synth-ct-rate"]["kind"] == "anatomy"
    sites = {(r["model"], r["dataset"]): r["site"] for r in document["cross_dataset"]}
    assert sites[("fvlp", "synth-ct-rate")] == "internal"
    assert sites[("fvlp", "synth-rad-chestct")] == "external"
    assert sites[("dummy", "synth-ct-rate")] == "unknown"
    store = Store(options().store)
    assert store.load_run("latest")["run_id"] == document["run_id"]
    assert {r.metric for r in store.metric_rows()} >= {"auc", "f1", "threshold"}


def test_rerun_reuses_caches_and_repeats_every_number(options):
    first = run(options())
    second = run(options())
    assert all(r["volumes_encoded_now"] == 0 for r in second["results"])
    for a, b in zip(first["results"], second["results"], strict=True):
        assert a["cube"]["sha256"] == b["cube"]["sha256"]
        assert a["families"] == b["families"]


def test_an_interrupted_run_stores_nothing_and_its_rerun_reuses_caches(
    options, tmp_path, monkeypatch
):
    from cabench.eval import analysis

    reference = run(options(models=["fvlp"], store=tmp_path / "reference.sqlite"))
    monkeypatch.setenv("CABENCH_HOME", str(tmp_path / "other-home"))  # caches start empty
    opts = options(models=["fvlp"])
    real, calls = analysis.analyse_cube, []

    def interrupt_second_dataset(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # both datasets' volumes are encoded by now
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(analysis, "analyse_cube", interrupt_second_dataset)
        with pytest.raises(KeyboardInterrupt):
            run(opts)
    assert Store(opts.store).run_ids() == []
    rerun = run(opts)
    assert [r["volumes_encoded_now"] for r in rerun["results"]] == [0, 0]
    for a, b in zip(reference["results"], rerun["results"], strict=True):
        assert a["cube"]["sha256"] == b["cube"]["sha256"]
        assert a["families"] == b["families"]


def test_export_and_json_through_the_cli(small_sites, trained_tiny, tmp_path, capsys):
    store, doc, npz = tmp_path / "s.sqlite", tmp_path / "doc.json", tmp_path / "cubes.npz"
    code = main([
        "run", "--models", "fvlp", "--dataset", "synth-ct-rate",
        "--root", str(small_sites["synth-ct-rate"]), "--prompts", "ctclip,fvlm",
        "--checkpoint", f"fvlp={trained_tiny['fvlp']}", "--bootstrap", "20",
        "--store", str(store), "--json", str(doc),
    ])  # fmt: skip
    assert code == 0
    assert "mean AUC" in capsys.readouterr().out
    document = json.loads(doc.read_text())  # strict JSON: NaN became null
    assert main(["export", "--store", str(store), "--scores", str(npz)]) == 0
    with np.load(npz, allow_pickle=False) as data:
        probs = data["fvlp/synth-ct-rate/probs"]
        assert probs.shape == tuple(document["results"][0]["cube"]["shape"])
        assert list(data["fvlp/synth-ct-rate/findings"]) == document["results"][0]["findings"]
        assert data["fvlp/synth-ct-rate/case_ids"].shape == (probs.shape[0],)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"models": ["fvlq"], "checkpoints": {}}, "did you mean 'fvlp'"),
        ({"datasets": ["synth-ct-rat"]}, "did you mean 'synth-ct-rate'"),
        ({"prompts": ["clinicl"]}, "clinical"),
        ({"threshold": "median"}, "--threshold 'median'"),
        ({"checkpoints": {}, "models": ["cagcl"]}, "cabench train --model cagcl"),
    ],
)
def test_bad_input_stores_nothing(options, change, message):
    from cabench.errors import UserError

    opts = options(**change)
    with pytest.raises(UserError, match=message):
        run(opts)
    assert Store(opts.store).run_ids() == []


def test_tampered_checkpoint_and_bad_root_exit_2(small_sites, trained_tiny, tmp_path, capsys):
    bad = tmp_path / "ckpt"
    shutil.copytree(trained_tiny["fvlp"], bad)
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\x00" * 8)
    base = ["run", "--models", "fvlp", "--dataset", "synth-ct-rate", "--store", str(tmp_path / "s")]
    code = main([*base, "--root", str(small_sites["synth-ct-rate"]), "--checkpoint", f"fvlp={bad}"])
    assert code == 2 and "does not match the model card" in capsys.readouterr().err
    code = main([*base, "--root", str(tmp_path / "nowhere"), "--checkpoint",
                 f"fvlp={trained_tiny['fvlp']}"])  # fmt: skip
    assert code == 2 and "nowhere" in capsys.readouterr().err
    empty = tmp_path / "empty.yaml"
    empty.write_text("name: empty\nversion: 1\ndescription: nothing\ntemplates: []\n")
    code = main([*base, "--root", str(small_sites["synth-ct-rate"]), "--prompts", str(empty),
                 "--checkpoint", f"fvlp={trained_tiny['fvlp']}"])  # fmt: skip
    assert code == 2
    assert Store(tmp_path / "s").run_ids() == []


def test_third_party_adapter_through_an_entry_point(small_sites, tmp_path, monkeypatch):
    """A package registers a model under `cabench.models`; cabench finds and runs it."""
    site = tmp_path / "site"
    (site / "my_adapter_pkg").mkdir(parents=True)
    (site / "my_adapter_pkg" / "__init__.py").write_text(
        textwrap.dedent("""
        from cabench.models.dummy import DummyModel

        class Mine(DummyModel):
            name = "mine"

        def load(checkpoint, device):
            return Mine(anatomy_level=False)
    """)
    )
    dist = site / "my_adapter_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-adapter-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cabench.models]\nmine = my_adapter_pkg:load\n")
    monkeypatch.syspath_prepend(str(site))
    from cabench.models import registry

    monkeypatch.setattr(registry.ADAPTERS, "_entry_points_loaded", False)
    document = run(RunOptions(models=["mine"], datasets=["synth-ct-rate"],
                              roots=dict(small_sites), prompts=["ctclip"], bootstrap=0,
                              store=tmp_path / "r.sqlite"))  # fmt: skip
    assert document["models"][0]["name"] == "mine"
    assert document["collapse"]["mine"]["image"]["synth-ct-rate"]["kind"] == "global"
    assert "my_adapter_pkg" in sys.modules


def test_torchrun_shards_volume_encoding(small_sites, trained_tiny, tmp_path):
    """Two gloo processes split the volume encoding, store one run, and score what one process
    scores."""
    import os
    import subprocess

    def cli_run(store, home, launcher):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "CABENCH_PROGRESS": "0",
               "CABENCH_HOME": str(home)}  # fmt: skip
        command = [
            *launcher, "-m", "cabench.cli", "run", "--models", "fvlp", "--dataset",
            "synth-ct-rate", "--root", str(small_sites["synth-ct-rate"]), "--prompts", "ctclip",
            "--checkpoint", f"fvlp={trained_tiny['fvlp']}", "--bootstrap", "0",
            "--store", str(store), "--device", "cpu",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", "29531"]  # fmt: skip
    two = cli_run(tmp_path / "two.sqlite", tmp_path / "h2", torchrun)
    assert two.stdout.count("mean AUC") == 1  # only rank 0 reports
    one = cli_run(tmp_path / "one.sqlite", tmp_path / "h1", [sys.executable])
    assert one.returncode == 0
    sharded, single = Store(tmp_path / "two.sqlite"), Store(tmp_path / "one.sqlite")
    assert len(sharded.summaries()) == 1
    a, b = sharded.load_run("latest")["results"][0], single.load_run("latest")["results"][0]
    assert a["volumes_encoded_now"] == b["volumes_encoded_now"] > 0
    cube_a = sharded.get_arrays(a["cube"]["sha256"])["probs"]
    cube_b = single.get_arrays(b["cube"]["sha256"])["probs"]
    np.testing.assert_allclose(cube_a, cube_b, atol=1e-5)
