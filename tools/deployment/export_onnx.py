#!/usr/bin/env python
"""Export SoLA-Vision to ONNX (dynamic batch, H, W) and verify it in ONNX Runtime.

    python tools/deployment/export_onnx.py --arch tiny [CKPT] --shape 224 224 --out sola_t.onnx
    python tools/deployment/export_onnx.py CONFIG [CKPT] [--part features] --shape H W --out F
"""
import sys

from mmsola.commands.export_onnx import main

if __name__ == '__main__':
    sys.exit(main())
