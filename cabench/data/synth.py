"""`cabench data synth`: write a synthetic chest-CT site in a real dataset's on-disk layout.

:func:`generate` plans the volumes, renders them (two worker processes when there are enough),
writes everything into a temporary sibling folder and renames it into place, so an interrupted
run leaves nothing half-written. Every volume is seeded from (seed, site, its own index), so the
output is byte-identical for the same arguments however the work is spread. The manifest
``cabench_synth.json`` is written last; rerunning with the same arguments finds it and returns.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path
from types import ModuleType

from cabench.data import synth_ctrate, synth_radchest
from cabench.data.synth_io import write_csv
from cabench.errors import UserError
from cabench.registry import did_you_mean
from cabench.ui import track
from cabench.vocab import finding_names, synthetic_structures

GENERATOR_VERSION = 4
SITES: dict[str, ModuleType] = {
    synth_ctrate.NAME: synth_ctrate,
    synth_radchest.NAME: synth_radchest,
}
MANIFEST = "cabench_synth.json"


def generate(
    name: str,
    root: Path,
    *,
    cases: int = 200,
    shape: tuple[int, int, int] | None = None,
    seed: int = 0,
    layout: str = "v2",
    valid_fraction: float = 0.25,
    workers: int | None = None,
) -> Path:
    """Write ``cases`` synthetic volumes of site ``name`` into ``root`` and return ``root``."""
    site = _site(name)
    shape = _check(site, cases, shape, seed, layout, valid_fraction)
    root = Path(root)
    manifest = build_manifest(site, cases, shape, seed, layout, valid_fraction)
    if _existing(root, manifest):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        tasks = site.plan_tasks(cases, shape, seed, layout, valid_fraction)
        results = _run(partial(site.render, root=tmp), tasks, workers, f"writing {name}")
        site.write_tables(tmp, results, layout)
        write_csv(
            tmp / "cabench_synth" / "sentences.csv",
            ["case_id", "anatomy", "sentence"],
            [(r["name"], a, s) for r in results for a, s in r["sentences"]],
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if root.exists():
            root.rmdir()  # empty (checked above); rename needs it gone
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def build_manifest(
    site: ModuleType, cases: int, shape: tuple, seed: int, layout: str, valid_fraction: float
) -> dict:
    """The manifest written last into the root; equal manifests mean equal datasets."""
    return {
        "generator": "cabench",
        "generator_version": GENERATOR_VERSION,
        "name": site.NAME,
        "seed": seed,
        "cases": cases,
        "shape": list(shape),
        "spacing_mm": list(site.spacing_for(shape)),
        "layout": layout if site is synth_ctrate else "npz",
        "valid_fraction": valid_fraction,
        "structures": {str(k): v for k, v in synthetic_structures().items()},
        "finding_order": finding_names(),
    }


def _site(name: str) -> ModuleType:
    if name not in SITES:
        raise UserError(f"unknown synthetic dataset {name!r}: {did_you_mean(name, list(SITES))}")
    return SITES[name]


def _check(site, cases, shape, seed, layout, valid_fraction) -> tuple[int, int, int]:
    if not isinstance(cases, int) or cases < 1:
        raise UserError(f"--cases must be a positive number of volumes, got {cases!r}")
    if seed < 0:
        raise UserError(f"--seed must be 0 or more, got {seed}")
    if not 0.0 <= valid_fraction <= 1.0:
        raise UserError(f"--valid-fraction must lie in [0, 1], got {valid_fraction}")
    if site is synth_ctrate and layout not in ("v1", "v2"):
        raise UserError(f"--layout must be v1 or v2 for {site.NAME}, got {layout!r}")
    if site is not synth_ctrate and layout != "v2":
        raise UserError(f"--layout applies to synth-ct-rate only; {site.NAME} has one layout")
    shape = tuple(int(n) for n in (shape or site.DEFAULT_SHAPE))
    if len(shape) != 3 or not all(16 <= n <= 1024 for n in shape):
        raise UserError(f"--shape needs three sizes D H W between 16 and 1024, got {shape}")
    return shape  # type: ignore[return-value]


def _existing(root: Path, manifest: dict) -> bool:
    """True when ``root`` already holds this very dataset; refuse any other non-empty root."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} is a file; give a folder to write the dataset into")
    if not root.exists() or not any(root.iterdir()):
        return False
    try:
        found = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        found = None
    if found == manifest:
        return True
    what = "another synthetic dataset" if found else "other files"
    raise UserError(f"{root} is not empty (it holds {what}); choose an empty or new folder")


def _run(render, tasks: list, workers: int | None, description: str) -> list[dict]:
    """Render every task, in order, on up to two worker processes."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(tasks) < 8:
        return list(track((render(t) for t in tasks), description, total=len(tasks)))
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers) as pool:
        return list(track(pool.imap(render, tasks), description, total=len(tasks)))
