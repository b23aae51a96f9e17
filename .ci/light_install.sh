#!/usr/bin/env bash
# The light install: `pip install .` into an empty venv brings no torch, and the core commands
# (score, layers, compare, every report format) work there; commands that need an extra exit 2
# naming it. Run by .ci/run; usage: .ci/light_install.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-$(mktemp -d)/wsep-core}"
python -m venv "$venv"
"$venv/bin/pip" install -q .
w="$venv/bin/wsep"
fail() { echo "light install: $*" >&2; exit 1; }

for mod in torch torchvision timm matplotlib scipy sklearn onnx huggingface_hub; do
    if "$venv/bin/python" -c "import $mod" 2>/dev/null; then fail "'pip install .' pulled $mod"; fi
done
for f in fixtures/digits_mlp.safetensors fixtures/digits_mlp.pt fixtures/digits_mlp_legacy.pt \
         fixtures/digits_mlp.onnx fixtures/digits_mlp_sharded; do
    "$w" score "$f" > /dev/null || fail "wsep score $f"
    "$w" layers "$f" > /dev/null || fail "wsep layers $f"
done
for fmt in table json markdown junit github; do
    "$w" score fixtures/digits_mlp.safetensors --format "$fmt" --max-epsilon 1000 > /dev/null || fail "--format $fmt"
done
"$w" compare fixtures/digits_mlp.safetensors fixtures/digits_mlp.onnx > /dev/null || fail "wsep compare"
set +e
"$w" score fixtures/digits_mlp.safetensors --max-epsilon 1 > /dev/null; rc=$?
[ "$rc" -eq 1 ] || fail "a failing gate exited $rc, not 1"
for cmd in "finetune --model lenet --data digits --epochs 1 --output $venv/run" "plot fixtures/digits_mlp.safetensors -o $venv/p.png"; do
    err=$($w $cmd 2>&1 >/dev/null); rc=$?
    [ "$rc" -eq 2 ] || fail "wsep $cmd exited $rc without its extra, not 2"
    case "$err" in *'pip install "wsep['*) ;; *) fail "wsep $cmd does not name the extra: $err";; esac
done
echo "light install: ok (no torch; score, layers, compare and every format work; finetune/plot name their extra)"
