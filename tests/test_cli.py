import subprocess
import sys

from cabench import __version__
from cabench.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("ls", "data"):
        assert command in out


def test_unknown_command_is_usage_error():
    assert main(["no-such-command"]) == 2


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "cabench.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cabench {__version__}"


def test_ls_models_and_cache_commands(capsys, tmp_path, monkeypatch):
    assert main(["ls", "models"]) == 0
    out = capsys.readouterr().out
    for name in ("clip", "fvlp", "cagcl", "dummy"):
        assert name in out
    cache = tmp_path / "home" / "cache" / "embeddings"
    cache.mkdir(parents=True)
    (cache / "x.sqlite").write_bytes(b"1234")
    monkeypatch.setenv("CABENCH_HOME", str(tmp_path / "home"))
    assert main(["cache", "info"]) == 0
    assert "1 files" in capsys.readouterr().out
    assert main(["cache", "clear", "--what", "embeddings"]) == 0
    assert not cache.exists()
    assert main(["cache", "clear", "--what", "everything"]) == 2


def test_ls_datasets_and_prompts(capsys):
    assert main(["ls", "datasets"]) == 0
    out = capsys.readouterr().out
    assert "synth-ct-rate" in out and "rad-chestct" in out
    assert main(["ls", "prompts"]) == 0
    out = capsys.readouterr().out
    for family in ("ctclip", "fvlm", "organ", "clinical", "report"):
        assert family in out
