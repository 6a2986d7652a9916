#!/usr/bin/env bash
# Installs the current PyTorch (CPU build) and ONNX Runtime from PyPI into bench/.venv, for
# `gaitrt bench --peers`. Debian's python3-torch (1.13) is used as it is, from /usr/bin/python3.
# The runtime and its tests never need this.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# PyPI only (the PyTorch wheel index may be unreachable); on Linux this wheel also pulls CUDA libraries
.venv/bin/pip install --quiet torch
.venv/bin/pip install --quiet numpy onnx onnxscript onnxruntime
.venv/bin/python -c "import torch, onnxruntime; print('torch', torch.__version__, 'onnxruntime', onnxruntime.__version__)"
