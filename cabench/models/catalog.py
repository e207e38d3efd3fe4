"""`cabench ls models`: configs under models/ and registered adapters, with checkpoint status."""

from __future__ import annotations

from rich.table import Table

from cabench.errors import UserError
from cabench.models.checkpoint import read_card
from cabench.models.config import available_configs, load_config
from cabench.models.registry import ADAPTERS, default_checkpoint
from cabench.ui import stdout


def model_rows() -> list[dict[str, str]]:
    rows = []
    for name, path in available_configs().items():
        config = load_config(str(path))
        folder = default_checkpoint(name)
        status = "not trained"
        if folder.exists():
            try:
                card = read_card(folder)
                status = f"trained on {card['dataset']['name']} ({card.get('epochs_done', '?')} ep)"
            except (UserError, KeyError):
                status = "unreadable checkpoint"
        rows.append({"name": name, "family": config.family, "anatomy set": config.anatomy_set
                     if config.anatomy_level else "-", "checkpoint": f"{status}: {folder}",
                     "description": config.description})  # fmt: skip
    for name in ADAPTERS.names():
        rows.append({"name": name, "family": "adapter", "anatomy set": "-",
                     "checkpoint": "registered adapter", "description": ""})  # fmt: skip
    return rows


def model_table() -> None:
    table = Table(title="models")
    for column in ("name", "family", "anatomy set", "checkpoint", "description"):
        table.add_column(column)
    for row in model_rows():
        table.add_row(
            *(row[c] for c in ("name", "family", "anatomy set", "checkpoint", "description"))
        )
    stdout.print(table)
