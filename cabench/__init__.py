"""cabench: prompt-robustness benchmark for 3D CT vision-language models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cabench")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
