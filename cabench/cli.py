"""The `cabench` command. Each subcommand is thin and calls the package modules below it."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from cabench import __version__
from cabench.errors import CabenchError
from cabench.ui import console

app = typer.Typer(
    name="cabench",
    help="Prompt-robustness benchmark for 3D CT vision-language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
ls_app = typer.Typer(
    help="List datasets, prompt families, augmenters and models.", no_args_is_help=True
)
app.add_typer(ls_app, name="ls")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cabench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Prompt-robustness benchmark for 3D CT vision-language models."""


@ls_app.command("datasets")
def ls_datasets() -> None:
    """Datasets cabench can read: what each is, whether it is present, and where."""
    from cabench.data.catalog import dataset_table

    dataset_table()


@app.command("train")
def train_command(
    model: str = typer.Option(..., "--model", help="Model config name (see `cabench ls models`)."),
    dataset: str = typer.Option("synth-ct-rate", "--dataset", help="Training dataset name."),
    root: Path = typer.Option(None, "--root", help="Dataset folder (default $CABENCH_DATA/NAME)."),
    preset: str = typer.Option("tiny", "--preset", help="tiny (CPU) or full (GPU)."),
    epochs: int = typer.Option(None, "--epochs", help="Override the preset's epochs."),
    batch_size: int = typer.Option(None, "--batch-size", help="Override the preset's batch size."),
    lr: float = typer.Option(None, "--lr", help="Override the preset's learning rate."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint's state."),
    force: bool = typer.Option(False, "--force", help="Retrain even if an identical one exists."),
    out: Path = typer.Option(
        None, "--out", help="Checkpoint folder (default models/checkpoints/NAME)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (init, batch order, augmentation)."),
    max_cases: int = typer.Option(None, "--max-cases", help="Train on the first N cases only."),
) -> None:
    """Train a model on a dataset with reports; writes a safetensors checkpoint and model card."""
    from cabench.train import TrainOptions, train

    options = TrainOptions(
        model=model, dataset=dataset, root=root, preset=preset, epochs=epochs,
        batch_size=batch_size, lr=lr, device=device, resume=resume, force=force, out=out,
        seed=seed, max_cases=max_cases,
    )  # fmt: skip
    typer.echo(str(train(options)))


def _register_subcommands() -> None:
    from cabench.data.cli import app as data_app

    app.add_typer(data_app, name="data")


_register_subcommands()


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command, mapping cabench's errors to one line and an exit code."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="cabench", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: unknown command, bad option value
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            console.print(f"error: {escape(exc.format_message())}")
        return exc.exit_code
    except CabenchError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
