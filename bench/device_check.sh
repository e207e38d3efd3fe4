#!/usr/bin/env bash
# The one prepared GPU check (docs/benchmarks.md, "GPU training throughput"): run from the
# repository root on a GPU machine, with the wheels of bench/gpu_wheels.sh in .whl/ if its image
# lacks monai, nibabel or open_clip. Three stages, each under its own time limit so that a hang
# cannot spend the whole lease:
#   1. environment: versions, the GPU, the imports cabench needs;
#   2. the real commands on the GPU at the tiny preset: synthetic data, `cabench train` (bf16
#      autocast, fused AdamW, checkpoint, per-epoch validation), `cabench run`;
#   3. `python -m bench.gpu_train` at the full preset: volumes/s and peak memory per model and of
#      the plain 3D ViT reference at CT-CLIP resolution.
# Logs and results go to $OUT (default /tmp/cabench-gpu). Sizes: CHECK_DEVICE (cuda), PRESET
# (full), STEPS (60), CASES (16), SHAPE ("120 240 240": volumes generated smaller and resampled
# up by preprocessing, 8x faster to generate), and the stage limits SMOKE_S (240) and TRAIN_S
# (420). On a CPU, `CHECK_DEVICE=cpu PRESET=tiny STEPS=3 CASES=8 SHAPE= bench/device_check.sh`
# runs the same stages small.
set -uo pipefail
OUT=${OUT:-/tmp/cabench-gpu}
DEVICE=${CHECK_DEVICE:-cuda}
PRESET=${PRESET:-full}
STEPS=${STEPS:-60}
CASES=${CASES:-16}
SHAPE=${SHAPE-120 240 240}
PY=${PYTHON:-python3}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 CABENCH_HOME="$WORK/home" CABENCH_PROGRESS=0

if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" .whl/*.whl || exit 1
  export PYTHONPATH="$WORK/site:$PWD"
elif ! "$PY" -c "import cabench" 2>/dev/null; then
  export PYTHONPATH="$PWD"
fi

stage() {  # stage NAME SECONDS COMMAND...: run it under a limit, log to $OUT/NAME.log
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit} s): $*"
  local start=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local code=$?
  tail -n 25 "$OUT/$name.log"
  echo "== $name: exit $code after $((SECONDS - start)) s"
  return $code
}

stage env 120 bash -c "
  $PY -c 'import sys, torch; print(sys.version); print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"available\", torch.cuda.is_available()); print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"no GPU\")'
  $PY -c 'import monai, nibabel, open_clip, transformers, tokenizers, cabench; print(\"monai\", monai.__version__, \"nibabel\", nibabel.__version__, \"open_clip\", open_clip.__version__, \"transformers\", transformers.__version__, \"tokenizers\", tokenizers.__version__)'
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
" || exit 1

CKPT="$WORK/fvlp-$DEVICE"
stage smoke "${SMOKE_S:-240}" bash -c "
  set -e
  $PY -m cabench.cli data synth --name synth-ct-rate --root $WORK/site-tiny --cases 48
  $PY -m cabench.cli train --model fvlp --dataset synth-ct-rate --root $WORK/site-tiny \
    --epochs 2 --device $DEVICE --out $CKPT
  $PY -c 'import json; c = json.load(open(\"$CKPT/model_card.json\")); print(\"card:\", c[\"host\"], c[\"history\"][-1])'
  $PY -m cabench.cli run --models fvlp --dataset synth-ct-rate --root $WORK/site-tiny \
    --checkpoint fvlp=$CKPT --device $DEVICE --prompts ctclip,organ --bootstrap 50 \
    --store $WORK/runs.sqlite --json $OUT/smoke_run.json
"
smoke=$?

# shellcheck disable=SC2086  # SHAPE is three numbers or empty
stage gpu_train "${TRAIN_S:-420}" "$PY" -m bench.gpu_train --preset "$PRESET" --steps "$STEPS" \
  --cases "$CASES" --device "$DEVICE" ${SHAPE:+--shape $SHAPE} --out "$OUT/gpu_train.json"
train=$?
echo "smoke exit $smoke, gpu_train exit $train; results in $OUT"
rm -rf "$WORK"
exit $((smoke || train))
