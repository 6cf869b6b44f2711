#!/usr/bin/env bash
# The end-to-end flow on local folders, no server: what `make demo` runs.
# A collection centre's raw recordings (AgiBot World layout) are packaged into an embodex
# dataset, inspected and verified.
set -euo pipefail
OUT=${DEMO_OUT:-demo-output}
rm -rf "$OUT"
mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Record: synthesise a day of raw teleoperation recordings (AgiBot World layout)"
embodex synth "$OUT/raw" --layout agibot --episodes 6 --seed 7 --depth

step "2. Package them into an embodex dataset (licence and provenance from the sidecar)"
embodex package "$OUT/raw" "$OUT/centre/dataset" --from agibot --meta "$OUT/raw/embodex-sidecar.yaml"

step "3. Add a batch of synthetic episodes from other scenes"
embodex synth "$OUT/centre/more" --episodes 12 --seed 1
embodex inspect "$OUT/centre/more" --json > "$OUT/more.json"

step "4. Inspect: episodes, hours per scene type and skill, cameras"
embodex inspect "$OUT/centre/dataset"

step "5. Verify every hash, schema and frame count"
embodex verify "$OUT/centre/dataset"
embodex verify "$OUT/centre/more"

step "6. Train: a short behaviour-cloning run loading the data through embodex.train"
# --qc all: no QC verdicts here yet; after `embodex qc run`, --qc pass keeps passing episodes only.
python examples/train_bc.py "$OUT/centre/more" --steps 150 --workers 2 --qc all --log-every 50

printf '\nDemo finished: outputs in %s/\n' "$OUT"
