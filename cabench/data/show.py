"""`cabench data show`: axial, coronal and sagittal slices of one case with anatomy contours and,
for synthetic sites, the finding locations overlaid.

Slices go through the centre of the case's findings when the synthetic sidecar
``<root>/cabench_synth/findings/<case_id>.npz`` marks any, else through the volume's centre.
Display follows radiological convention: patient right on the image's left, anterior at the top
of axial slices, superior at the top of coronal and sagittal ones.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cabench import vocab
from cabench.data import masks, voxels
from cabench.data.base import CaseRef, DatasetReader
from cabench.data.catalog import open_dataset
from cabench.errors import DataError, UserError
from cabench.registry import did_you_mean

WINDOW = (-1000.0, 400.0)
FINDINGS_DIR = Path("cabench_synth") / "findings"
ANATOMY_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#ff7f0e", "#8c564b", "#e377c2"]


def find_case(reader: DatasetReader, case_id: str) -> CaseRef:
    """The case ``case_id`` in any split (unknown ids get "did you mean")."""
    everything = [c for split in reader.splits() for c in reader.cases(split)]
    for case in everything:
        if case.case_id == case_id:
            return case
    ids = [c.case_id for c in everything]
    raise UserError(f"{reader.name} has no case {case_id!r}: {did_you_mean(case_id, ids)}")


def finding_field(root: Path, case_id: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The synthetic sidecar's uint32 finding bit field, or None where there is none."""
    path = root / FINDINGS_DIR / f"{case_id}.npz"
    if not path.is_file():
        return None
    field = voxels.load_npz(path, "findings", "finding map")
    if field.shape != shape or field.dtype.kind not in "iu":
        raise DataError(
            f"{path}: finding map {field.dtype} {field.shape} does not fit the volume {shape} "
            "(regenerate the dataset)"
        )
    return field.astype(np.uint32)


def _centre(field: np.ndarray | None, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if field is not None and field.any():
        return tuple(int(np.median(axis)) for axis in np.nonzero(field))  # type: ignore[return-value]
    return tuple(n // 2 for n in shape)  # type: ignore[return-value]


def _views(array: np.ndarray, at: tuple[int, int, int]) -> list[np.ndarray]:
    d, h, w = at
    return [array[d], array[:, h, :], array[:, :, w]]


def render_case(
    dataset: str,
    root: str | Path | None,
    case_id: str,
    out: str | Path,
    anatomy_set: str = "chest7",
    **options: object,
) -> Path:
    """Write a PNG of ``case_id`` with anatomy contours and findings; returns its path.

    ``options`` go to the reader (see :func:`cabench.data.catalog.open_dataset`). The PNG is
    written to a temporary file and renamed, so a failure leaves nothing behind.
    """
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise UserError(f"{out}: the output must be a .png file (e.g. --out case.png)")
    reader = open_dataset(dataset, root, **options)
    case = find_case(reader, case_id)
    volume = reader.read_volume(case)
    bits = reader.read_anatomy_bits(case, anatomy_set)
    field = finding_field(reader.root, case_id, volume.hu.shape)
    manifest = masks.load_manifest(reader.root) or {}
    finding_names = list(manifest.get("finding_order") or vocab.finding_names())
    anatomies = vocab.anatomy_set(anatomy_set).anatomies
    at = _centre(field, volume.hu.shape)
    sd, sh, sw = volume.spacing
    aspects = [sh / sw, sd / sw, sd / sh]
    titles = [f"axial {at[0]}", f"coronal {at[1]}", f"sagittal {at[2]}"]

    figure = Figure(figsize=(15, 6.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    handles: dict[str, object] = {}
    hu_views = _views(volume.hu, at)
    bit_views = _views(bits, at) if bits is not None else [None] * 3
    field_views = _views(field, at) if field is not None else [None] * 3
    for ax, image, bit_view, field_view, aspect, title in zip(
        axes, hu_views, bit_views, field_views, aspects, titles, strict=True
    ):
        ax.imshow(image, cmap="gray", vmin=WINDOW[0], vmax=WINDOW[1], aspect=aspect)
        ax.set_title(title)
        ax.set_axis_off()
        if bit_view is not None:
            for i, anatomy in enumerate(anatomies):
                inside = (bit_view & (1 << i)) > 0
                if inside.any() and not inside.all():
                    colour = ANATOMY_COLOURS[i % len(ANATOMY_COLOURS)]
                    ax.contour(inside, levels=[0.5], colors=[colour], linewidths=0.8)
                    handles[anatomy] = Line2D([], [], color=colour, label=anatomy)
        if field_view is not None:
            for j, name in enumerate(finding_names):
                present = (field_view & np.uint32(1 << j)) > 0
                if present.any():
                    colour = colormaps["hsv"](j / max(len(finding_names), 1))  # bright hues
                    overlay = np.ma.masked_where(~present, present)
                    cmap = ListedColormap([colour])
                    ax.imshow(
                        overlay, cmap=cmap, alpha=0.55, aspect=aspect, interpolation="nearest"
                    )
                    handles[name] = Patch(color=colour, alpha=0.55, label=name)
    positives = [f for f, v in case.labels.items() if v]
    note = "" if bits is not None else "; no anatomy mask"
    title = f"{reader.name} {case.case_id} ({case.split}), {volume.layout}{note}"
    label_line = "positive: " + (", ".join(positives) if positives else "none")
    figure.suptitle(title + "\n" + textwrap.fill(label_line, 160), fontsize=10)
    if handles:
        figure.legend(
            handles=list(handles.values()), loc="outside lower center", ncol=8, fontsize=8
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".png.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png", dpi=100)
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return out
