#!/usr/bin/env bash
# The generated assets of the book's "Try it live" page (book/08_live.md), written into
# book/_static/live/ (git-ignored, copied into the site by Sphinx as _static/live/):
#
#   ort/    onnxruntime-web's single-threaded bundle and its wasm files (SIMD and plain),
#           installed from the npm registry with the exact version of web/package-lock.json
#   model/  the pretrained causal GCRN as one streaming step (python -m sedemo export-onnx)
#   clips/  three 4-second noisy clips of the corpus's test split (16-bit WAV) + clips.json
#
# Nothing is fetched at read time: every file the page loads comes from the site itself.
# Usage: bash scripts/build_live_assets.sh   (PYTHON=path/to/python, default .venv/bin/python)
# Run by `make book` and `make test` before the book build; a rerun only redoes what is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=book/_static/live
mkdir -p "$OUT/ort" "$OUT/model" "$OUT/clips"

# 1. onnxruntime-web, pinned by web/package-lock.json (npm ci: exactly the locked version)
if ! command -v npm >/dev/null; then
    echo "build_live_assets: npm is needed (Debian: apt-get install npm)" >&2
    exit 1
fi
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    npm ci --prefix web --no-audit --no-fund --ignore-scripts --loglevel=error
fi
DIST=web/node_modules/onnxruntime-web/dist
# ort.wasm-core: the WebAssembly backend without threads, so no cross-origin isolation
# (COOP/COEP headers) is needed; it loads ort-wasm-simd.wasm, or ort-wasm.wasm without SIMD.
for f in ort.wasm-core.min.js ort-wasm-simd.wasm ort-wasm.wasm; do
    cmp -s "$DIST/$f" "$OUT/ort/$f" || cp "$DIST/$f" "$OUT/ort/$f"
done
cp web/node_modules/onnxruntime-web/package.json "$OUT/ort/package.json"

# 2. the model: one streaming step of the default model of `python -m sedemo enhance`
#    (LIVE_MODEL=gcrn to try another pretrained one), redone when the model, its checkpoint
#    or the exporter changed
LIVE_MODEL=${LIVE_MODEL:-$("$PYTHON" -c 'from sedemo.__main__ import DEFAULT_MODEL; print(DEFAULT_MODEL)')}
ONNX="$OUT/model/model.onnx"
rm -f "$OUT/model/gcrn.onnx" "$OUT/model/gcrn.json"  # the file names of earlier versions of this script
if [ ! -f "$ONNX" ] || [ ! -f "${ONNX%.onnx}.json" ] || [ "sedemo/pretrained/$LIVE_MODEL.pt" -nt "$ONNX" ] \
        || [ sedemo/streaming/onnx_export.py -nt "$ONNX" ] \
        || ! grep -q "\"source\": \"pretrained $LIVE_MODEL\"" "${ONNX%.onnx}.json"; then
    "$PYTHON" -m sedemo export-onnx "$ONNX" --model "$LIVE_MODEL"
fi

# 3. test clips: noisy items of the test split, one per noise type, cut to 4 s
"$PYTHON" - "$OUT/clips" <<'PY'
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from sedemo.data.corpus import load_corpus

out = Path(sys.argv[1])
N_CLIPS, SECONDS, RATE = 3, 4.0, 16000
corpus = load_corpus()
chosen, seen = [], set()
for it in sorted(corpus.items("test"), key=lambda it: it.id):  # one item per noise type, in id order
    if it.seconds >= SECONDS and it.noise_type not in seen:
        chosen.append(it)
        seen.add(it.noise_type)
    if len(chosen) == N_CLIPS:
        break
clips = []
for k, it in enumerate(chosen):
    _, noisy = it.load()
    x = np.clip(np.asarray(noisy[: int(SECONDS * RATE)], dtype=np.float64), -1.0, 32767 / 32768)
    name = f"clip{k}.wav"
    sf.write(out / name, x, RATE, subtype="PCM_16")
    clips.append({"file": name, "id": it.id, "noise_type": it.noise_type, "snr_db": round(float(it.snr_db), 1),
                  "speaker": it.speaker, "seconds": SECONDS})
for old in out.glob("clip*.wav"):
    if old.name not in {c["file"] for c in clips}:
        old.unlink()
(out / "clips.json").write_text(json.dumps({"source": corpus.source, "clips": clips}, indent=1) + "\n")
print(f"build_live_assets: {len(clips)} test clips in {out}")
PY
