#!/usr/bin/env bash
# Before spending device time: run the test suite here, on CPU, against the versions the GPU
# image brings (its Python, torch, transformers, tokenizers, numpy, safetensors, torchvision)
# plus the wheels bench/gpu_wheels.sh put in .whl/ -- the environment bench/device_check.sh will
# meet there. API drift between those versions and constraints.txt then shows up as a failing
# test on a CPU, not as a lost lease.
#
# The versions are the image's as the device tool's KINDS.md lists them (2026-11): override
# with GPU_IMAGE_PINS. PYTHON is an interpreter of the image's Python version (default
# python3.12); VENV is where the environment goes (default /tmp/cabench-gpu-image; reused when
# it exists). It downloads torch's CUDA build and its CUDA libraries (a few GB) the first time.
# Extra arguments go to pytest, e.g. `bench/gpu_image_tests.sh tests/models`.
set -euo pipefail
PYTHON=${PYTHON:-python3.12}
VENV=${VENV:-/tmp/cabench-gpu-image}
GPU_IMAGE_PINS=${GPU_IMAGE_PINS:-"torch==2.11.0 torchvision==0.26.0 transformers==5.17.0 \
tokenizers==0.23.2 numpy==2.5.2 safetensors==0.8.0"}

if ! compgen -G ".whl/*.whl" >/dev/null; then
  echo "no wheels in .whl/: run bench/gpu_wheels.sh first" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# cabench's other dependencies come at whatever versions resolve beside those pins (KINDS.md
# does not list the image's versions of pandas, scikit-learn and the rest).
# shellcheck disable=SC2086  # GPU_IMAGE_PINS is a list of requirements
"$VENV/bin/python" -m pip install --quiet $GPU_IMAGE_PINS .whl/*.whl -e ".[test]"
"$VENV/bin/python" -c 'import sys, torch, transformers, tokenizers, numpy
print("python", sys.version.split()[0], "torch", torch.__version__, "transformers",
      transformers.__version__, "tokenizers", tokenizers.__version__, "numpy", numpy.__version__)'
"$VENV/bin/python" -m pytest -n 2 -p no:cacheprovider -q "$@"
