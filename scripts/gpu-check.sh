#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU (under 10 minutes): provisions the CUDA build of the native
# backend, confirms TensorFlow runs on the GPU, compares the bundled model's logits and greedy ids with
# WebAssembly (CPU), and prints plain and PARGS tokens/s at GPT-2-medium shapes, B = 1 and 8.
# It FAILS (exit 1) where no GPU is found: a check that passes without a GPU would prove nothing.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: FAIL: no NVIDIA GPU found (nvidia-smi is missing or lists no device)"
  exit 1
fi
nvidia-smi -L

[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
[ -f dist/cli/main.js ] || npm run build || exit 1
node bin/pargs.js native install --gpu || { echo "gpu-check: FAIL: provisioning the GPU backend failed"; exit 1; }
home="${PARGS_NATIVE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/pargs/native}"
# The wheel route's CUDA libraries must be on the loader path before Node starts.
if [ -f "$home/cuda-env.sh" ]; then
  # shellcheck disable=SC1091
  source "$home/cuda-env.sh"
fi
exec npx tsx scripts/gpu-check.ts
