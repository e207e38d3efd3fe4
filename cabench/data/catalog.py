"""The dataset catalog: names -> readers, `open_dataset`, and the `cabench ls datasets` table.

Real and synthetic sites share readers (the generator writes the real layouts). Third-party
packages add datasets through the entry-point group ``cabench.datasets`` with either a
:class:`DatasetEntry` or a :class:`~cabench.data.base.DatasetReader` subclass.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from cabench import paths, ui
from cabench.data.base import DatasetReader
from cabench.errors import DataError, UserError
from cabench.registry import Registry, did_you_mean, import_object

CTRATE_EXPECTS = (
    "dataset/train_fixed/ or dataset/valid_fixed/ (v2), dataset/train/ or dataset/valid/ (v1)"
)
RADCHEST_EXPECTS = (
    "img{train,valid,test}_Abnormality_and_Location_Labels.csv and <NoteAcc_DEID>.npz"
)


@dataclass(frozen=True)
class DatasetEntry:
    """One named dataset: its reader, what it is, and how a user gets its files."""

    name: str
    description: str
    reader: str | type[DatasetReader]  # class or lazy "module:Class"
    expects: str = ""  # what the reader looks for under the root
    how_to_get: str = ""
    synthetic: bool = False

    def reader_class(self) -> type[DatasetReader]:
        return import_object(self.reader) if isinstance(self.reader, str) else self.reader


DATASETS: Registry[DatasetEntry] = Registry("dataset")
DATASETS.register(
    "ct-rate",
    DatasetEntry(
        "ct-rate",
        "CT-RATE (real): chest CT, reports, 18 findings; v2 or v1 release",
        "cabench.data.ctrate:CTRateReader",
        CTRATE_EXPECTS,
        "download CT-RATE from https://huggingface.co/datasets/ibrahimhamamci/CT-RATE "
        "(see docs/datasets.md)",
    ),
)
DATASETS.register(
    "rad-chestct",
    DatasetEntry(
        "rad-chestct",
        "Rad-ChestCT (real): chest CT, 84 abnormality labels, no reports; external test",
        "cabench.data.radchest:RadChestReader",
        RADCHEST_EXPECTS,
        "download Rad-ChestCT from https://zenodo.org/records/6406114 (see docs/datasets.md)",
    ),
)
for _name, _real in (("synth-ct-rate", "ct-rate"), ("synth-rad-chestct", "rad-chestct")):
    _base = DATASETS.get(_real)
    DATASETS.register(
        _name,
        DatasetEntry(
            _name,
            f"synthetic phantom site in the {_real} layout (embedded default)",
            _base.reader,
            _base.expects,
            f"generate it with `cabench data synth --name {_name} --root DIR`",
            synthetic=True,
        ),
    )


def dataset_entry(name: str) -> DatasetEntry:
    """The catalog entry of ``name`` (unknown names get "did you mean")."""
    entry = DATASETS.get(name)
    if isinstance(entry, type) and issubclass(entry, DatasetReader):
        return DatasetEntry(name, entry.description or entry.__doc__ or "", entry)
    if not isinstance(entry, DatasetEntry):
        raise UserError(f"dataset {name!r} is registered as {entry!r}, not a DatasetEntry")
    return entry


def _check_options(cls: type[DatasetReader], name: str, options: dict) -> None:
    accepted = [
        p
        for p in inspect.signature(cls.__init__).parameters
        if p not in ("self", "root", "dataset_name")
    ]
    for option in options:
        if option not in accepted:
            raise UserError(
                f"dataset {name!r} has no option {option!r}: {did_you_mean(option, accepted)}"
            )


def open_dataset(name: str, root: str | Path | None = None, **options: object) -> DatasetReader:
    """Open dataset ``name`` at ``root`` (default $CABENCH_DATA/NAME) with reader ``options``.

    Options: ``layout`` ("auto"|"v1"|"v2", CT-RATE), ``calcification`` ("duplicate"|"merge") and
    ``spacing`` (Rad-ChestCT), ``mask_root``, ``mask_labels``, ``mask_merge``,
    ``missing_volumes`` ("error"|"skip"). A root without the dataset is an error naming where it
    looked and how to get the data; synthetic data is never substituted for a real dataset.
    """
    entry = dataset_entry(name)
    cls = entry.reader_class()
    _check_options(cls, name, options)
    where = paths.dataset_root(name, root)
    if not cls.is_present(where):
        state = "folder not found" if not where.exists() else "no data there"
        looked = f"; looked for {entry.expects}" if entry.expects else ""
        raise DataError(
            f"{name}: {where}: {state}{looked}. To get it: "
            f"{entry.how_to_get or 'put the data there'}, or pass --root to where it is"
        )
    if "dataset_name" in inspect.signature(cls.__init__).parameters:
        return cls(where, dataset_name=name, **options)
    return cls(where, **options)


def dataset_rows() -> list[dict[str, str]]:
    """One row per registered dataset: name, what it is, present or not, and where."""
    rows = []
    for name in DATASETS.names():
        entry = dataset_entry(name)
        where = paths.dataset_root(name)
        try:
            present = entry.reader_class().is_present(where)
        except (OSError, UserError):
            present = False
        rows.append(
            {
                "name": name,
                "description": entry.description,
                "present": "yes" if present else "no",
                "where": str(where),
            }
        )
    return rows


def dataset_table() -> None:
    """Print the `cabench ls datasets` table to stdout."""
    table = Table(title="datasets ($CABENCH_DATA/NAME unless --root is given)")
    for column in ("name", "what", "present", "where"):
        table.add_column(column, overflow="fold")
    for row in dataset_rows():
        table.add_row(row["name"], row["description"], row["present"], row["where"])
    ui.stdout.print(table)
