#!/usr/bin/env bash
# Prints the onnxruntime build that fits this machine, as "<variant> <reason>" (variant: cpu, gpu, gpu-cuda12;
# scripts/setup.sh installs requirements-onnxruntime-<variant>.txt). onnxruntime-gpu wheels on PyPI:
# 1.27 and newer are built for CUDA 13, 1.26.0 is the last for CUDA 12, none for aarch64 (Jetson: JetPack's
# own onnxruntime-gpu builds). The CUDA major is the driver's ("CUDA Version" in nvidia-smi's header): the
# newest runtime it can run.
set -euo pipefail
machine=$(uname -m)
if ! command -v nvidia-smi >/dev/null 2>&1 || ! header=$(nvidia-smi 2>/dev/null); then
  echo "cpu no NVIDIA driver (nvidia-smi missing or failing)"
  exit 0
fi
if [ "$machine" != x86_64 ]; then
  echo "cpu PyPI has no onnxruntime-gpu for $machine (on a Jetson, install JetPack's onnxruntime-gpu by hand)"
  exit 0
fi
cuda=$(grep -o 'CUDA Version: *[0-9]*' <<<"$header" | grep -o '[0-9]*$' || true)
case "$cuda" in
  "") echo "cpu nvidia-smi shows no CUDA version" ;;
  1[3-9]|[2-9][0-9]) echo "gpu driver supports CUDA $cuda: onnxruntime-gpu for CUDA 13" ;;
  12) echo "gpu-cuda12 driver supports CUDA 12: onnxruntime-gpu 1.26.0, the last for CUDA 12" ;;
  *) echo "cpu driver supports only CUDA $cuda; onnxruntime-gpu needs CUDA 12 or newer" ;;
esac
