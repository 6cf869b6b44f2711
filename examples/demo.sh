#!/usr/bin/env bash
# The end-to-end flow on local folders, no server: what `make demo` runs.
# A collection centre's raw recordings (AgiBot World layout) are packaged into an embodex
# dataset, inspected, verified, quality-checked and reviewed.
set -euo pipefail
OUT=${DEMO_OUT:-demo-output}
rm -rf "$OUT"
mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Record: synthesise a day of raw teleoperation recordings (AgiBot World layout)"
embodex synth "$OUT/raw" --layout agibot --episodes 6 --seed 7 --depth --duration 8-12

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

step "6. Quality control: every rule of the humanoid-30fps profile (exit 1 if any episode FAILs)"
embodex qc run "$OUT/centre/dataset"
embodex qc run "$OUT/centre/more" --json > "$OUT/more-qc.json"

step "7. Manual review: the next episode in the queue, a decision, the log"
embodex review next "$OUT/centre/dataset" -o "$OUT/review"
EPISODE=$(embodex review next "$OUT/centre/dataset" --json -o "$OUT/review" \
  | python -c 'import json, sys; print(json.load(sys.stdin)["next"])')
embodex review set "$OUT/centre/dataset" "$EPISODE" --verdict accept \
  --reason warning_acceptable --reviewer rev-001 --note "depth is registered to the head camera"
embodex review list "$OUT/centre/dataset"
embodex qc show "$OUT/centre/dataset" "$EPISODE"

step "8. QC report: one self-contained HTML file with plots"
embodex qc report "$OUT/centre/dataset" -o "$OUT/qc-report.html"
embodex qc report "$OUT/centre/more" -o "$OUT/more-qc-report.html"

printf '\nDemo finished: outputs in %s/\n' "$OUT"
