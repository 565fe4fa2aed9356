"""Deployment: ONNX export of SoLA-Vision models, checked in ONNX Runtime.

Importing this package needs only torch and mmengine; onnx, onnxruntime and onnxscript (the
``deploy`` extra) are imported when an export or a check runs, after
:func:`require_deploy_deps` has named any that are missing. ``onnx_ops`` (the ONNX translation
of the linear-attention op) imports onnxscript and is loaded only by :func:`export_onnx`.
"""
from .deps import INSTALL_HINT, MissingDeployDependency, require_deploy_deps
from .onnx_export import (
    DEFAULT_OPSET,
    NonStandardGraphError,
    OnnxMismatchError,
    check_standard_domains,
    export_onnx,
    format_rows,
    second_shape,
    verify_onnx,
)
from .targets import (
    ClassifierScores,
    ExportError,
    FeatureMaps,
    SegmentorLogits,
    backbone_target,
    config_target,
)

__all__ = [
    'INSTALL_HINT', 'MissingDeployDependency', 'require_deploy_deps', 'DEFAULT_OPSET',
    'NonStandardGraphError', 'OnnxMismatchError', 'check_standard_domains', 'export_onnx',
    'verify_onnx', 'second_shape', 'format_rows', 'ClassifierScores', 'ExportError',
    'FeatureMaps', 'SegmentorLogits', 'backbone_target', 'config_target'
]
