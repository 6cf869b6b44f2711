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

if [ "${DEMO_EXPORT:-0}" = 1 ]; then
    step "6. Interop: ROS 2 MCAP in; LeRobot, Hugging Face and Rerun out"
    embodex synth "$OUT/bags" --layout mcap --episodes 2 --duration 3-3
    embodex package "$OUT/bags" "$OUT/centre/ros2" --from mcap --map "$OUT/bags/topics.yaml" \
        --meta "$OUT/bags/embodex-sidecar.yaml"
    embodex export lerobot "$OUT/centre/dataset" "$OUT/exports/lerobot"
    embodex export lerobot "$OUT/centre/dataset" "$OUT/exports/lerobot-av1" --video
    embodex package "$OUT/exports/lerobot" "$OUT/exports/lerobot-back" --from lerobot
    embodex export hf "$OUT/centre/dataset" "$OUT/exports/hf"
    python -c "import datasets, sys; print(datasets.load_from_disk(sys.argv[1]))" "$OUT/exports/hf"
    embodex view "$OUT/centre/dataset" 0 -o "$OUT/exports/episode0.rrd"
    echo "load the LeRobot export with: LeRobotDataset('local/demo', root='$OUT/exports/lerobot')"
else
    echo
    echo "(DEMO_EXPORT=1 make demo adds the interop step: MCAP in; LeRobot, Hugging Face, Rerun out)"
fi

printf '\nDemo finished: outputs in %s/\n' "$OUT"
