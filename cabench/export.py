"""`cabench export`: a run's score cubes as one plain .npz (no pickle needed to load it).

Keys per (model, dataset) pair ``<model>/<dataset>/<array>``: probs (cases, templates, findings),
labels, case_ids, template_ids, template_families, findings; plus ``pairs`` listing the pairs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from cabench.store import Store


def export_scores(store_path: Path | None, run: str, out: Path) -> Path:
    store = Store(store_path)
    document = store.load_run(run)
    arrays: dict[str, np.ndarray] = {}
    pairs = []
    for entry in document["results"]:
        prefix = f"{entry['model']}/{entry['dataset']}"
        pairs.append(prefix)
        for key, value in store.get_arrays(entry["cube"]["sha256"]).items():
            arrays[f"{prefix}/{key}"] = value
    arrays["pairs"] = np.array(pairs)
    arrays["run_id"] = np.array(document["run_id"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
