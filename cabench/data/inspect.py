"""`cabench data inspect`: validate a dataset's layout and summarise it.

Opening the dataset checks its tables and file list; with ``per_volume`` every volume is read and
converted to HU, and volumes whose HU range is implausible are flagged, which is where the CT-RATE
v1/v2 double-rescale trap shows up (a v2 volume rescaled again sits around -8000 or -2000 HU).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from cabench import ui
from cabench.data.base import CaseRef, DatasetReader
from cabench.data.catalog import open_dataset

HU_MIN_FLOOR = -1100.0  # air is -1000; a lower minimum means a wrong intercept
HU_MAX_CEILING = 4000.0  # dense metal can exceed 3000; more means a wrong scale
HU_MEAN_RANGE = (-1000.0, 500.0)


def hu_flags(hu_min: float, hu_mean: float, hu_max: float) -> list[str]:
    """Why a volume's HU range is implausible for chest CT (empty when it looks right)."""
    flags = []
    if hu_min < HU_MIN_FLOOR:
        flags.append(f"min {hu_min:g} < {HU_MIN_FLOOR:g} HU (rescaled twice or wrong intercept?)")
    if hu_max > HU_MAX_CEILING:
        flags.append(f"max {hu_max:g} > {HU_MAX_CEILING:g} HU (raw values not converted to HU?)")
    low, high = HU_MEAN_RANGE
    if not low <= hu_mean <= high:
        flags.append(f"mean {hu_mean:.1f} outside [{low:g}, {high:g}] HU")
    return flags


def _split_summary(reader: DatasetReader, cases: list[CaseRef]) -> dict[str, object]:
    positives = {f: sum(c.labels.get(f, 0) for c in cases) for f in reader.labelled_findings()}
    layouts = sorted({str(c.meta.get("layout", "")) for c in cases} - {""})
    return {
        "volumes": len(cases),
        "patients": len({c.patient_id for c in cases}),
        "layout": ", ".join(layouts),
        "masks": sum(c.mask_path is not None for c in cases),
        "reports": sum(c.report is not None for c in cases),
        "positives": positives,
    }


def _volume_stats(reader: DatasetReader, case: CaseRef) -> dict[str, object]:
    volume = reader.read_volume(case)
    hu = volume.hu
    hu_min, hu_max = float(hu.min()), float(hu.max())
    hu_mean = float(hu.mean(dtype=np.float64))  # a scalar accumulator, not a float64 volume
    flags = hu_flags(hu_min, hu_mean, hu_max)
    return {
        "id": case.case_id,
        "split": case.split,
        "shape": list(hu.shape),
        "spacing": [round(float(s), 6) for s in volume.spacing],
        "dtype": str(hu.dtype),
        "layout": volume.layout,
        "hu_min": hu_min,
        "hu_mean": round(hu_mean, 2),
        "hu_max": hu_max,
        "has_mask": case.mask_path is not None,
        "implausible": bool(flags),
        "flags": flags,
    }


def inspect_dataset(
    dataset: str,
    root: str | Path | None,
    split: str | None = None,
    per_volume: bool = False,
    **options: object,
) -> dict:
    """A JSON-able summary: volumes, patients, positives per finding, layout, masks; with
    ``per_volume`` each volume's id, shape, spacing and HU min/mean/max with implausibility flags.
    ``options`` go to the reader (see :func:`cabench.data.catalog.open_dataset`).
    """
    reader = open_dataset(dataset, root, **options)
    splits = [split] if split else reader.splits()
    by_split = {s: reader.cases(s) for s in splits}
    everything = [c for cases in by_split.values() for c in cases]
    summary: dict[str, object] = {
        "dataset": dataset,
        "root": str(reader.root),
        "fingerprint": reader.fingerprint(),
        "labelled_findings": reader.labelled_findings(),
        "merged_findings": {k: list(v) for k, v in reader.merged_findings().items()},
        "splits": {s: _split_summary(reader, cases) for s, cases in by_split.items()},
        "totals": {
            "volumes": len(everything),
            "patients": len({(c.split, c.patient_id) for c in everything}),
            "masks": sum(c.mask_path is not None for c in everything),
        },
    }
    if per_volume:
        volumes = [_volume_stats(reader, c) for c in ui.track(everything, "reading volumes")]
        summary["volumes"] = volumes
        summary["implausible"] = sum(v["implausible"] for v in volumes)
    return summary


def print_summary(summary: dict) -> None:
    """Print an inspect summary as tables on stdout."""
    out = ui.stdout
    totals = summary["totals"]
    out.print(f"{summary['dataset']} at {summary['root']} (fingerprint {summary['fingerprint']})")
    out.print(
        f"{totals['volumes']} volumes, {totals['patients']} patients, "
        f"{totals['masks']} with anatomy masks"
    )
    for finding, parts in summary.get("merged_findings", {}).items():
        out.print(f"merged label: {finding!r} is scored as the max of {parts}")
    splits = summary["splits"]
    table = Table(title="splits")
    for column in ("split", "volumes", "patients", "layout", "masks", "reports"):
        table.add_column(column)
    for name, info in splits.items():
        table.add_row(
            name,
            *(str(info[k]) for k in ("volumes", "patients", "layout", "masks", "reports")),
        )
    out.print(table)
    positives = Table(title="positives per finding")
    positives.add_column("finding")
    for name in splits:
        positives.add_column(name, justify="right")
    for finding in summary["labelled_findings"]:
        positives.add_row(finding, *(str(info["positives"][finding]) for info in splits.values()))
    out.print(positives)
    if "volumes" in summary:
        bad = [v for v in summary["volumes"] if v["implausible"]]
        out.print(f"{len(summary['volumes'])} volumes read, {len(bad)} with implausible HU")
        for volume in bad:
            out.print(f"  {volume['id']}: " + "; ".join(volume["flags"]))
