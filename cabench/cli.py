"""The `cabench` command. Each subcommand is thin and calls the package modules below it."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from cabench import __version__
from cabench.errors import CabenchError, UserError
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


def _pairs(values: list[str], option: str) -> dict[str, str]:
    """NAME=VALUE options into a dict (one clear error for a malformed one)."""
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UserError(f"{option} {value!r}: expected NAME=VALUE")
        out[name.strip()] = rest.strip()
    return out


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command("run")
def run_command(
    models: str = typer.Option(..., "--models", help="Comma-separated model names."),
    dataset: str = typer.Option(..., "--dataset", help="Comma-separated dataset names."),
    root: list[str] = typer.Option(
        None, "--root", help="Dataset folder: DIR (one dataset) or NAME=DIR, repeatable."
    ),
    prompts: str = typer.Option(
        "ctclip,fvlm,organ,clinical,report", "--prompts", help="Families or YAML paths."
    ),
    augment: str = typer.Option(None, "--augment", help="e.g. permutation:n=10,partial:n=10"),
    checkpoint: list[str] = typer.Option(None, "--checkpoint", help="NAME=DIR, repeatable."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates (0: none)."),
    threshold: str = typer.Option("youden", "--threshold", help="youden, ctclip or fixed:T."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    store: Path = typer.Option(
        None, "--store", help="Results store (default .cabench/results.sqlite)."
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write the result document here."),
    split: list[str] = typer.Option(None, "--split", help="NAME=SPLIT (default: valid, or all)."),
    anatomy_set: str = typer.Option("chest7", "--anatomy-set", help="Anatomy set for prompts."),
    calcification: str = typer.Option(
        "duplicate", "--calcification", help="Rad-ChestCT calcification: duplicate or merge."
    ),
    baseline_model: str = typer.Option(None, "--baseline-model", help="Paired differences vs."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(16, "--batch-size", help="Volumes per encoding batch."),
    max_cases: int = typer.Option(None, "--max-cases", help="Evaluate the first N cases only."),
) -> None:
    """Score every model x dataset x template x finding and store the run."""
    from cabench.eval.run import RunOptions, print_summary, run
    from cabench.jsonio import write_json

    if calcification not in ("duplicate", "merge"):
        raise UserError(f"--calcification {calcification!r}: use duplicate or merge")
    dataset_names = _names(dataset)
    roots = _pairs([r for r in root or [] if "=" in r], "--root")
    plain = [r for r in root or [] if "=" not in r]
    if plain:
        if len(plain) > 1 or len(dataset_names) > 1:
            raise UserError("--root DIR works with one dataset; use --root NAME=DIR for several")
        roots[dataset_names[0]] = plain[0]
    options = RunOptions(
        models=_names(models), datasets=dataset_names,
        roots={k: Path(v) for k, v in roots.items()}, prompts=_names(prompts), augment=augment,
        checkpoints={k: Path(v) for k, v in _pairs(checkpoint, "--checkpoint").items()},
        bootstrap=bootstrap, threshold=threshold, seed=seed, store=store,
        anatomy_set=anatomy_set, calcification=calcification, splits=_pairs(split, "--split"),
        baseline_model=baseline_model, device=device, batch_size=batch_size,
        max_cases=max_cases, command="cabench " + " ".join(sys.argv[1:]),
    )  # fmt: skip
    document = run(options)
    from cabench.distributed import rank

    if rank() != 0:
        return
    print_summary(document)
    if json_out is not None:
        write_json(json_out, document)
        console.print(f"result document: {json_out}")


@app.command("export")
def export_command(
    scores: Path = typer.Option(..., "--scores", help="The .npz file to write."),
    run: str = typer.Option("latest", "--run", help="Run id (or a unique prefix) or latest."),
    store: Path = typer.Option(None, "--store", help="Results store."),
) -> None:
    """Write a run's score cubes with labels, case ids, template ids and finding names."""
    from cabench.export import export_scores

    typer.echo(str(export_scores(store, run, scores)))


@app.command("report")
def report_command(
    run: str = typer.Option(None, "--run", help="Run id (or a unique prefix) or latest."),
    runs: str = typer.Option(None, "--runs", help="Comma-separated run ids, side by side."),
    store: Path = typer.Option(None, "--store", help="Results store."),
    out: Path = typer.Option(None, "--out", help="Folder (default reports/RUN_ID)."),
    formats: str = typer.Option("html,csv,md", "--format", help="Any of html, csv, md."),
) -> None:
    """Render stored runs as one self-contained HTML page plus CSV and Markdown tables."""
    from cabench.report import parse_formats, render_report

    if run is not None and runs is not None:
        raise UserError("--run and --runs: pass one of them")
    names = _names(runs) if runs is not None else [run or "latest"]
    for path in render_report(store, names, out, parse_formats(formats)):
        typer.echo(str(path))


@app.command("runs")
def runs_command(store: Path = typer.Option(None, "--store", help="Results store.")) -> None:
    """List the runs in the store."""
    from cabench.store import Store
    from cabench.ui import stdout

    for row in Store(store).summaries():
        stdout.print(f"{row['run_id']}  {row['finished_at']}  {row['command']}")


@app.command("check")
def check_command(
    baseline: Path = typer.Option(..., "--baseline", help="Baseline JSON file."),
    run: str = typer.Option("latest", "--run", help="Run id (or a unique prefix) or latest."),
    store: Path = typer.Option(None, "--store", help="Results store."),
    max_std_increase: float = typer.Option(0.01, "--max-std-increase", help="AUC std tolerance."),
    max_mean_drop: float = typer.Option(0.02, "--max-mean-drop", help="Mean AUC tolerance."),
    max_worst_drop: float = typer.Option(0.03, "--max-worst-drop", help="Worst AUC tolerance."),
) -> None:
    """Fail (exit 1) when prompt variance, mean or worst-case AUC regressed vs a baseline."""
    from cabench.check import Limits, check
    from cabench.ui import stdout

    verdicts, table = check(
        store, run, baseline, Limits(max_std_increase, max_mean_drop, max_worst_drop)
    )
    stdout.print(table, markup=False)
    if any(v.regressed for v in verdicts):
        raise typer.Exit(1)


baseline_app = typer.Typer(help="Write regression-gate baselines.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("write")
def baseline_write(
    out: Path = typer.Option(..., "--out", help="Baseline JSON file to write."),
    run: str = typer.Option("latest", "--run", help="Run id (or a unique prefix) or latest."),
    store: Path = typer.Option(None, "--store", help="Results store."),
) -> None:
    """Write a baseline (small, readable JSON) from a stored run."""
    from cabench.check import write_baseline

    typer.echo(str(write_baseline(store, run, out)))


@ls_app.command("prompts")
def ls_prompts() -> None:
    """Prompt families on the search path: name, version, templates, description, path."""
    from cabench.prompts.cli import ls_prompts as table

    table()


@ls_app.command("augmenters")
def ls_augmenters() -> None:
    """Registered prompt augmenters with their parameters."""
    from cabench.prompts.cli import ls_augmenters as table

    table()


@ls_app.command("models")
def ls_models() -> None:
    """Model configs and registered adapters, with their family and checkpoint status."""
    from cabench.models.catalog import model_table

    model_table()


cache_app = typer.Typer(help="Inspect or clear cabench's caches.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info() -> None:
    """Where the caches are, how many entries and bytes each holds."""
    from cabench.cache_admin import print_cache_info

    print_cache_info()


@cache_app.command("clear")
def cache_clear(
    what: str = typer.Option("all", "--what", help="all, volumes or embeddings."),
) -> None:
    """Delete cached volumes and/or embeddings (they are rebuilt on demand)."""
    from cabench.cache_admin import clear_cache

    typer.echo(clear_cache(what))


def _register_subcommands() -> None:
    from cabench.data.cli import app as data_app
    from cabench.prompts.cli import app as prompts_app

    app.add_typer(data_app, name="data")
    app.add_typer(prompts_app, name="prompts")


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
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
