"""`cabench data ...`: generate synthetic sites, inspect datasets, look at a case."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Generate, inspect and look at datasets.", no_args_is_help=True)

LAYOUT = typer.Option(None, "--layout", help="CT-RATE only: auto, v1 or v2.")
CALCIFICATION = typer.Option(None, "--calcification", help="Rad-ChestCT only: duplicate or merge.")
MASK_ROOT = typer.Option(
    None, "--mask-root", help="Anatomy mask tree (default ROOT/anatomy_masks)."
)
MASK_LABELS = typer.Option(None, "--mask-labels", help="JSON {label value: class name} of masks.")
MISSING = typer.Option(None, "--missing-volumes", help="error (default) or skip.")


def reader_options(**given: object) -> dict[str, object]:
    """The reader options the user actually gave (each reader rejects ones it lacks)."""
    return {key: value for key, value in given.items() if value is not None}


@app.command("synth")
def synth(
    name: str = typer.Option(..., "--name", help="synth-ct-rate or synth-rad-chestct."),
    root: Path = typer.Option(..., "--root", help="Folder to write the dataset into."),
    cases: int = typer.Option(200, "--cases", min=4, help="Number of volumes to write."),
    shape: tuple[int, int, int] = typer.Option(
        (0, 0, 0), "--shape", help="Volume shape D H W (default: the site's own)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; same arguments give identical files."),
    layout: str = typer.Option("v2", "--layout", help="CT-RATE layout version: v2 or v1."),
    valid_fraction: float = typer.Option(
        0.25, "--valid-fraction", min=0.0, max=1.0, help="Share of patients in the valid split."
    ),
) -> None:
    """Write a synthetic chest-CT site in the real dataset's on-disk layout."""
    from cabench.data.synth import generate

    out = generate(
        name,
        root,
        cases=cases,
        shape=None if shape == (0, 0, 0) else shape,
        seed=seed,
        layout=layout,
        valid_fraction=valid_fraction,
    )
    typer.echo(str(out))


@app.command("inspect")
def inspect(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name (see `cabench ls datasets`)."),
    root: Path = typer.Option(None, "--root", help="Dataset folder (default $CABENCH_DATA/NAME)."),
    split: str = typer.Option(None, "--split", help="Only this split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON with per-volume details."),
    layout: str = LAYOUT,
    calcification: str = CALCIFICATION,
    mask_root: Path = MASK_ROOT,
    mask_labels: Path = MASK_LABELS,
    missing_volumes: str = MISSING,
) -> None:
    """Validate a dataset's layout and summarise it; --json adds per-volume HU statistics."""
    from cabench.data.inspect import inspect_dataset, print_summary

    options = reader_options(
        layout=layout, calcification=calcification, mask_root=mask_root,
        mask_labels=mask_labels, missing_volumes=missing_volumes,
    )  # fmt: skip
    summary = inspect_dataset(dataset, root, split=split, per_volume=as_json, **options)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        print_summary(summary)


@app.command("show")
def show(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name."),
    root: Path = typer.Option(None, "--root", help="Dataset folder (default $CABENCH_DATA/NAME)."),
    case: str = typer.Option(..., "--case", help="Case id, e.g. valid_1_a_1 or trn00022."),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    anatomy_set: str = typer.Option("chest7", "--anatomy-set", help="Anatomy set to overlay."),
    layout: str = LAYOUT,
    calcification: str = CALCIFICATION,
    mask_root: Path = MASK_ROOT,
    mask_labels: Path = MASK_LABELS,
) -> None:
    """Axial, coronal and sagittal slices with anatomy masks and findings overlaid."""
    from cabench.data.show import render_case

    options = reader_options(
        layout=layout, calcification=calcification, mask_root=mask_root, mask_labels=mask_labels
    )
    typer.echo(str(render_case(dataset, root, case, out, anatomy_set=anatomy_set, **options)))
