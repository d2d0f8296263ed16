#!/usr/bin/env bash
# Reproduces the models shipped in models/ (about 2 hours on 2 CPU cores).
# Each model's README.md records the exact command that made it; this script runs them in
# order: the default model first, whose tokenizer the others share.
set -euo pipefail
cd "$(dirname "$0")/.."
SSI="${SSI:-.venv/bin/ssi}"
export LD_PRELOAD="${LD_PRELOAD:-$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null || true)}"
common=(--n-stories 200000 --lr 3e-3 --eval-every 50 --eval-batches 16 --checkpoint-every 100 --log-every 10 --bf16)

build() {  # build NAME ARGS...: train into runs/NAME (resuming if interrupted), copy to models/NAME
  local name=$1; shift
  [ -d "models/$name" ] && return
  if [ ! -d "runs/$name/model" ]; then
    local resume=(); [ -d "runs/$name/checkpoints" ] && resume=(--resume)
    $SSI train "$@" --out "runs/$name" "${common[@]}" "${resume[@]}"
  fi
  cp -r "runs/$name/model" "models/$name"
}

build SynthStories-1.25M --model SynthStories-1.25M --max-steps 1250 --batch-size 32 \
  --micro-batch-size 16 --warmup-steps 100
build SynthStories-1.25M-ctx128 --model SynthStories-1.25M --n-ctx 128 --tokenizer SynthStories-1.25M \
  --max-steps 300 --batch-size 128 --micro-batch-size 64 --warmup-steps 40
build SynthStories-1.25M-ctx64 --model SynthStories-1.25M --n-ctx 64 --tokenizer SynthStories-1.25M \
  --max-steps 300 --batch-size 256 --micro-batch-size 128 --warmup-steps 40
build SynthStories-1L --model SynthStories-1L --tokenizer SynthStories-1.25M \
  --max-steps 400 --batch-size 32 --micro-batch-size 16 --warmup-steps 40
# The paper's Fig. 21 neuron-model shape (8 layers, d_model 64, 256 neurons per layer), learned positions and
# GPT-Neo's unscaled attention, on the same tokens as SynthStories-1.25M (1250 x 32 rows; ~1 hour on 2 cores).
build SynthStories-1M-paper --model SynthStories-1M-paper --tokenizer SynthStories-1.25M --attn-scale none \
  --max-steps 1250 --batch-size 32 --micro-batch-size 16 --warmup-steps 100
# Norm-free twins: RMSNorm removed by fine-tuning (docs/norm_free.md), 15 steps per norm site and 150
# final steps of ~16k tokens each.
noln() {  # noln BASE ARGS...: remove BASE's norms into runs/BASE-noLN, copy to models/BASE-noLN
  local base=$1; shift
  [ -d "models/$base-noLN" ] && return
  [ -f "runs/$base-noLN/noln_report.json" ] || \
    $SSI noln "$base" --out "runs/$base-noLN" --steps-per-site 15 --final-steps 150 --bf16 "$@"
  cp -r "runs/$base-noLN" "models/$base-noLN"
}
noln SynthStories-1.25M
noln SynthStories-1L
noln SynthStories-1.25M-ctx128 --batch-size 128 --micro-batch-size 64
noln SynthStories-1.25M-ctx64 --batch-size 256 --micro-batch-size 128
# Long-context models of the context-length study (docs/context_length.md): each shipped model of
# its context length, fine-tuned on synthetic-mix (every fifth story long, several chapters).
long() {  # long NAME BASE ARGS...: fine-tune BASE into runs/NAME (resuming if interrupted), copy to models/NAME
  local name=$1 base=$2; shift 2
  [ -d "models/$name" ] && return
  if [ ! -d "runs/$name/model" ]; then
    local resume=(); [ -d "runs/$name/checkpoints" ] && resume=(--resume)
    $SSI train --init-from "$base" "$@" --data synthetic-mix --n-stories 60000 --max-steps 150 --warmup-steps 15 \
      --lr 1e-3 --eval-every 50 --eval-batches 16 --checkpoint-every 50 --log-every 10 --bf16 --out "runs/$name" "${resume[@]}"
  fi
  cp -r "runs/$name/model" "models/$name"
}
long SynthStories-1.25M-long SynthStories-1.25M --batch-size 32 --micro-batch-size 16
long SynthStories-1.25M-long-ctx128 SynthStories-1.25M-ctx128 --n-ctx 128 --batch-size 128 --micro-batch-size 64
long SynthStories-1.25M-long-ctx64 SynthStories-1.25M-ctx64 --n-ctx 64 --batch-size 256 --micro-batch-size 128
