"""Generator -> reader round trips: the synthetic sites read back through the real readers."""

from __future__ import annotations

import numpy as np
import pytest

from cabench import vocab
from cabench.data import open_dataset
from cabench.data.inspect import inspect_dataset
from cabench.data.synth import generate

SHAPE = (16, 32, 32)


def present_findings(root, case_id: str) -> dict[str, bool]:
    """Which findings the generator drew into the case (its sidecar bit field)."""
    with np.load(root / "cabench_synth" / "findings" / f"{case_id}.npz") as sidecar:
        field = sidecar["findings"]
    return {f: bool((field & np.uint32(1 << j)).any()) for j, f in enumerate(vocab.finding_names())}


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    return {
        key: generate(name, base / key, cases=6, shape=SHAPE, seed=4, layout=layout)
        for key, name, layout in [
            ("v2", "synth-ct-rate", "v2"),
            ("v1", "synth-ct-rate", "v1"),
            ("rc", "synth-rad-chestct", "v2"),
        ]
    }


def test_ctrate_site_reads_back_in_both_layouts(sites):
    v2 = open_dataset("synth-ct-rate", sites["v2"])
    v1 = open_dataset("synth-ct-rate", sites["v1"])
    assert v2.layout("train") == "v2" and v1.layout("train") == "v1"
    pairs = [(a, b) for s in v2.splits() for a, b in zip(v2.cases(s), v1.cases(s), strict=True)]
    assert len(pairs) == 6
    for a, b in pairs:
        assert a.case_id == b.case_id and a.labels == b.labels
        hu2, hu1 = v2.read_volume(a), v1.read_volume(b)
        np.testing.assert_array_equal(hu1.hu, hu2.hu)  # raw + intercept == stored HU
        assert hu1.spacing == pytest.approx(hu2.spacing)
        bits = v2.read_anatomy_bits(a, "chest7")
        assert bits.shape == hu2.hu.shape and bits.any()
        np.testing.assert_array_equal(bits, v1.read_anatomy_bits(b, "chest7"))
        assert a.labels == {f: int(p) for f, p in present_findings(sites["v2"], a.case_id).items()}
        assert a.report["Findings_EN"]
    assert inspect_dataset("synth-ct-rate", sites["v1"], per_volume=True)["implausible"] == 0


@pytest.mark.parametrize("calcification", ["duplicate", "merge"])
def test_radchest_site_reads_back_with_mapped_labels(sites, calcification):
    reader = open_dataset("synth-rad-chestct", sites["rc"], calcification=calcification)
    sources: dict[str, set[str]] = {}
    for abnormality, finding in vocab.radchestct_map():
        sources.setdefault(abnormality, set()).add(finding)
    cases = [c for s in reader.splits() for c in reader.cases(s)]
    assert len(cases) == 6
    for case in cases:
        drawn = present_findings(sites["rc"], case.case_id)
        volume = reader.read_volume(case)
        assert volume.hu.dtype == np.int16 and case.report is None
        bits = reader.read_anatomy_bits(case, "fvlm4")
        assert bits.shape == volume.hu.shape and bits.any()
        for finding, label in case.labels.items():
            # a Rad-ChestCT label is positive when any finding sharing its abnormality was drawn
            group = set().union(*(g for g in sources.values() if finding in g))
            if finding in reader.merged_findings():
                group |= set(reader.merged_findings()[finding])
            assert label == int(any(drawn[f] for f in group)), (case.case_id, finding)
