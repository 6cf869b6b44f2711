#!/usr/bin/env bash
# Build .venv-lerobot: LeRobot's dataset code beside the CPU torch on this machine's disk.
#
# Why not `pip install lerobot`: lerobot 0.4.4 (newest for Python 3.11) pins torch<2.11 and
# torchvision<0.26, which would pull multi-GB CUDA builds, and huggingface_hub<0.36, which
# clashes with the main venv. So: CPU torch from the local wheel, lerobot --no-deps, the
# pure-Python packages lerobot.datasets imports, and torchvision --no-deps (PyPI's is a CUDA
# build; scripts/lerobot_tv_shim.py, installed with a .pth, declares the two C++ op schemas it
# expects so its pure-Python transforms import beside the CPU torch).
#
# Never fails the build: on any error it writes the reason to $VENV/FAILED, and the tests
# that need LeRobot skip with that reason.
set -uo pipefail
VENV=${1:-.venv-lerobot}
PYTHON=${2:-python3}
TORCH_VERSION=${LEROBOT_TORCH_VERSION:-2.13.0+cpu}
LEROBOT_VERSION=0.4.4

rm -rf "$VENV"
fail() {
    mkdir -p "$VENV"
    printf '%s\n' "$*" > "$VENV/FAILED"
    touch "$VENV/.installed"
    echo "lerobot venv not built: $*" >&2
    exit 0
}
step() {
    local what=$1; shift
    local log
    log=$("$@" 2>&1) || fail "$what failed: $(printf '%s' "$log" | grep -iE 'error|no matching' | head -n 2 | tr '\n' ' ')"
}
start=$(date +%s)
step "creating the venv" "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
step "pip install torch==$TORCH_VERSION (the CPU wheel; none on this machine's disk or index?)" \
    "${PIP[@]}" "torch==$TORCH_VERSION"
step "pip install --no-deps lerobot==$LEROBOT_VERSION" "${PIP[@]}" --no-deps "lerobot==$LEROBOT_VERSION"
step "pip install lerobot's dataset dependencies" "${PIP[@]}" \
    "datasets>=4.0.0,<5" "huggingface-hub>=0.34.2,<0.36" "einops>=0.8,<0.9" "av>=15,<16" \
    "jsonlines>=4,<5" "packaging>=24.2,<26" "draccus==0.10.0" "deepdiff>=7.0.1,<9" \
    "termcolor>=2.4,<4" "imageio>=2.34,<3" pandas pyarrow pillow "setuptools>=71,<81"
step "pip install --no-deps accelerate psutil safetensors" "${PIP[@]}" --no-deps \
    "accelerate>=1.10,<2" psutil safetensors
step "pip install --no-deps torchvision==0.28.0" "${PIP[@]}" --no-deps "torchvision==0.28.0"
here=$(cd "$(dirname "$0")/.." && pwd)
# The torchvision workaround (scripts/lerobot_tv_shim.py) runs in every process of the venv.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    || fail "could not find the venv's site-packages"
cp "$here/scripts/lerobot_tv_shim.py" "$site/embodex_lerobot_tv_shim.py" \
    && echo "import embodex_lerobot_tv_shim" > "$site/embodex_lerobot_tv_shim.pth" \
    || fail "could not install the torchvision workaround into $site"
# embodex itself too, so examples/lerobot_roundtrip.py runs where LeRobot is (as a user would).
step "pip install embodex[lerobot] into the LeRobot venv" "${PIP[@]}" --no-build-isolation \
    -e "$here[lerobot]"
step "importing LeRobotDataset" "$VENV/bin/python" "$here/tests/lerobot_probe.py" --self-check
touch "$VENV/.installed"
echo "lerobot venv built in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
