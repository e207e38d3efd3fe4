#!/usr/bin/env bash
# Download, into .whl/ (gitignored), the wheels a GPU image without monai, nibabel and open_clip
# needs for bench/device_check.sh: those three at the versions of constraints.txt plus open_clip's
# own dependencies that such images lack (ftfy, wcwidth). --no-deps keeps torch out (the image
# brings its own CUDA build). PY_VERSION is the GPU image's Python (default 3.12).
set -euo pipefail
PY_VERSION=${PY_VERSION:-3.12}
pin() { grep -i "^$1==" constraints.txt; }
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any -d .whl \
  "$(pin monai)" "$(pin nibabel)" "$(pin open_clip_torch)" "$(pin ftfy)" "$(pin wcwidth)"
ls -l .whl
