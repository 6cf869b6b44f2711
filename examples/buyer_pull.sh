#!/usr/bin/env bash
# A buyer's delivery run: pull new batches (verify, check, accept/reject, install, receipt),
# then see where the supply stands against the contract.
#
# Usage: examples/buyer_pull.sh CHANNEL CONTRACT KEY STORE [AT]
#   CHANNEL   the channel URL (a folder, file:// or s3://bucket/prefix)
#   CONTRACT  the signed contract file
#   KEY       the buyer's key name (encrypted keys read EMBODEX_KEY_PASSPHRASE)
#   STORE     the buyer's store; STORE/dataset is what training reads
#   AT        optional: act as of this time (demos); leave out in real use
# Run it from cron (or use `embodex pull --watch`) for continuous supply.
set -euo pipefail
if [ $# -lt 4 ]; then
    sed -n '2,11p' "$0" >&2
    exit 2
fi
CHANNEL=$1 CONTRACT=$2 KEY=$3 STORE=$4
AT=()
if [ $# -ge 5 ]; then AT=(--at "$5"); fi

embodex pull --channel "$CHANNEL" --contract "$CONTRACT" --key "$KEY" --into "$STORE" "${AT[@]}"
echo
embodex supply status --channel "$CHANNEL" --contract "$CONTRACT" "${AT[@]}"
