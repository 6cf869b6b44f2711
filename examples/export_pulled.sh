#!/usr/bin/env bash
# Interop on pulled data: the buyer's accepted episodes out to LeRobot (images and AV1
# video) and Hugging Face `datasets`, the LeRobot export read back into embodex, and one
# episode as a Rerun recording. `DEMO_EXPORT=1 make demo` runs it on the demo's pulled data.
#
# Usage: examples/export_pulled.sh DATASET OUT
#   DATASET  an embodex dataset, e.g. the buyer's STORE/dataset after `embodex pull`
#   OUT      a new folder for the exports
set -euo pipefail
if [ $# -ne 2 ]; then
    sed -n '2,8p' "$0" >&2
    exit 2
fi
DATASET=$1 OUT=$2

embodex export lerobot "$DATASET" "$OUT/lerobot"
embodex export lerobot "$DATASET" "$OUT/lerobot-av1" --video
embodex package "$OUT/lerobot" "$OUT/lerobot-back" --from lerobot
embodex export hf "$DATASET" "$OUT/hf"
python -c "import datasets, sys; print(datasets.load_dataset(sys.argv[1], split='train'))" "$OUT/hf"
embodex view "$DATASET" 0 -o "$OUT/episode0.rrd"
echo "load the LeRobot export with: LeRobotDataset('local/pulled', root='$OUT/lerobot')"
