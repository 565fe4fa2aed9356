"""Export a model to ONNX (dynamic batch, height, width), check the file, verify it in ONNX
Runtime against PyTorch.

The export goes through torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``) with
:func:`mmsola.deploy.onnx_ops.custom_translation_table`, so the linear-attention custom op
becomes standard ONNX ops; softmax attention exports through the exporter's own
``scaled_dot_product_attention`` translation. One file serves every batch size and resolution.

Needs the optional packages onnx, onnxruntime, onnxscript (``pip install "mmsola[deploy]"``);
each entry point checks for them first and names what is missing.
"""
import logging
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from mmsola.errors import UserError
from .deps import require_deploy_deps

# ONNX Runtime runs opset 20 since 1.17 (1.32 is pinned); it is also torch's default.
DEFAULT_OPSET = 20
INPUT_NAME = 'input'
STANDARD_DOMAINS = ('', 'ai.onnx', 'ai.onnx.ml')
# Example batch of the export trace: torch.export fixes sizes of 1, so a batch of 1 would make
# the batch axis static.
EXPORT_BATCH = 2
# The smallest H and W of the trace example: the stride-32 stage keeps a grid of at least 2 x 2
# (torch.export would otherwise treat a 1-token grid as a special case and refuse the dynamic
# range). The exported file itself runs any size (checked down to 1 x 1).
MIN_SIZE = 33


class OnnxMismatchError(RuntimeError):
    """ONNX Runtime's outputs differ from PyTorch's beyond the tolerance."""


class NonStandardGraphError(UserError, RuntimeError):
    """The exported graph holds nodes or functions outside the standard ONNX domains."""


def _example(batch: int, shape: Tuple[int, int], seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *shape, generator=gen)


def export_onnx(target: nn.Module, shape: Tuple[int, int], out: str,
                output_names: Sequence[str], opset: int = DEFAULT_OPSET,
                metadata: Optional[Dict[str, str]] = None):
    """Export ``target`` ((B, 3, H, W) -> tensors) to ``out`` and check it.

    Args:
        target: the module, in eval mode (see :mod:`mmsola.deploy.targets`).
        shape: (H, W) of the trace example; the exported batch, H and W are dynamic.
        out: path of the .onnx file (weights inside the file).
        output_names: one name per output tensor.
        opset: default-domain opset.
        metadata: extra ``metadata_props`` written into the file.

    Returns:
        the checked ``onnx.ModelProto``.

    Raises:
        MissingDeployDependency: onnx / onnxruntime / onnxscript missing.
        ValueError: H or W below :data:`MIN_SIZE`.
        NonStandardGraphError: a node or function outside the standard domains.
        onnx.checker.ValidationError: an invalid file.
    """
    if len(shape) != 2 or min(shape) < MIN_SIZE:
        raise ValueError(f'the export shape must be (H, W) with both >= {MIN_SIZE} (the '
                         f'stride-32 stage needs a grid of at least 2 x 2), got {tuple(shape)}')
    require_deploy_deps()
    import onnx

    from .onnx_ops import custom_translation_table

    dims = {0: torch.export.Dim('batch'), 2: torch.export.Dim('height', min=MIN_SIZE),
            3: torch.export.Dim('width', min=MIN_SIZE)}
    example = _example(EXPORT_BATCH, shape)
    target = target.eval()
    print_log(f'exporting {type(target).__name__} to {out}: torch.export, decompositions, '
              'translation to ONNX, graph optimisation (1 to 2 minutes for SoLA-T on 2 CPU '
              'cores)...', logger='current')
    start = time.perf_counter()
    with torch.no_grad():
        program = torch.onnx.export(
            target, (example, ), dynamo=True, input_names=[INPUT_NAME],
            output_names=list(output_names), opset_version=opset,
            dynamic_shapes=(dims, ), custom_translation_table=custom_translation_table(),
            optimize=True, verbose=False)
    program.save(out, external_data=False)
    model = onnx.load(out)
    props = dict(producer='mmsola', input=f'{INPUT_NAME}: (batch, 3, height, width) float32, '
                 'preprocessed images', **(metadata or {}))
    onnx.helper.set_model_props(model, props)
    check_standard_domains(model)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out)
    print_log(f'exported {type(target).__name__} to {out} (opset {opset}, '
              f'{time.perf_counter() - start:.1f} s)', logger='current')
    return model


def check_standard_domains(model) -> None:
    """Raise NonStandardGraphError if a node (subgraphs included) or a local function of
    ``model`` (an ``onnx.ModelProto``) is outside :data:`STANDARD_DOMAINS`."""
    bad = sorted({f'{n.domain}::{n.op_type}' for n in iter_nodes(model.graph)
                  if n.domain not in STANDARD_DOMAINS})
    functions = [f'{f.domain}::{f.name}' for f in model.functions]
    if bad or functions:
        raise NonStandardGraphError(
            f'the exported graph is not plain ONNX: nodes in custom domains {bad}, local '
            f'functions {functions}; every runtime needs ops of the standard domains '
            f'{STANDARD_DOMAINS} only')


def iter_nodes(graph):
    """Every node of ``graph`` (an ``onnx.GraphProto``), nodes of subgraphs included."""
    import onnx
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from iter_nodes(g)


def _session(path: str, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def _median_ms(fn, repeats: int, bar=None):
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up; and its result."""
    result = fn()
    if bar is not None:
        bar.update()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - start))
        if bar is not None:
            bar.update()
    return (statistics.median(times) if times else float('nan')), result


def verify_onnx(target: nn.Module, path: str, output_names: Sequence[str],
                shapes: Sequence[Tuple[int, int]], batch: int = 1, rtol: float = 1e-4,
                repeats: int = 5, threads: Optional[int] = None,
                progress: bool = True) -> List[dict]:
    """Run ``path`` in ONNX Runtime (CPU) and ``target`` in PyTorch at each (H, W) in ``shapes``.

    Errors per output: ``max_abs`` = max |ort - torch|, ``rel`` = max_abs / max |torch|.
    Latency: the median of ``repeats`` runs after a warm-up, both with ``threads`` threads
    (default: torch's current number).

    Returns:
        one dict per (shape, output): ``shape``, ``batch``, ``output``, ``max_abs``, ``rel``,
        ``torch_ms``, ``ort_ms``, ``threads``.

    Raises:
        OnnxMismatchError: ``rel`` above ``rtol`` for any output, or outputs of different
            shapes; the message lists them all.
    """
    require_deploy_deps()
    from mmengine.utils import ProgressBar

    threads = threads or torch.get_num_threads()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    session = _session(path, threads)
    bar = ProgressBar(2 * len(shapes) * (repeats + 1)) if progress else None
    rows = []
    try:
        for i, shape in enumerate(shapes):
            x = _example(batch, shape, seed=i + 1)
            with torch.inference_mode():
                torch_ms, ref = _median_ms(lambda: target(x), repeats, bar)
            feed = {INPUT_NAME: x.numpy()}
            ort_ms, got = _median_ms(lambda: session.run(None, feed), repeats, bar)
            ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
            for name, r, g in zip(output_names, ref, got):
                rows.append(dict(shape=tuple(shape), batch=batch, output=name,
                                 **_errors(r, torch.from_numpy(g)), torch_ms=torch_ms,
                                 ort_ms=ort_ms, threads=threads))
            if len(ref) != len(got):
                raise OnnxMismatchError(f'at {shape}: PyTorch gave {len(ref)} outputs, ONNX '
                                        f'Runtime {len(got)}')
    finally:
        torch.set_num_threads(previous_threads)
        if bar is not None:
            bar.file.write('\n')
    bad = [r for r in rows if not r['rel'] <= rtol]
    if bad:
        raise OnnxMismatchError(
            f'ONNX Runtime does not match PyTorch within rel={rtol:g} (max |ort - torch| / '
            'max |torch|): ' + '; '.join(
                f"{r['output']} at {r['shape'][0]}x{r['shape'][1]}: rel={r['rel']:.3g}, "
                f"max_abs={r['max_abs']:.3g}" + (f" ({r['note']})" if r.get('note') else '')
                for r in bad))
    for r in rows:
        print_log(f"ONNX vs PyTorch {r['output']} at {r['shape'][0]}x{r['shape'][1]}: "
                  f"max_abs={r['max_abs']:.3g} rel={r['rel']:.3g}; latency torch "
                  f"{r['torch_ms']:.1f} ms, onnxruntime {r['ort_ms']:.1f} ms", logger='current',
                  level=logging.INFO)
    return rows


def _errors(ref: torch.Tensor, got: torch.Tensor) -> dict:
    if ref.shape != got.shape:
        return dict(max_abs=float('inf'), rel=float('inf'),
                    note=f'shape {tuple(got.shape)} != {tuple(ref.shape)}')
    ref, got = ref.double(), got.double()
    max_abs = (ref - got).abs().max().item()
    scale = ref.abs().max().item()
    return dict(max_abs=max_abs, rel=max_abs / scale if scale > 0 else max_abs)


def second_shape(shape: Tuple[int, int]) -> Tuple[int, int]:
    """A different, odd, non-square size near (3H/4, 5W/4): the second check of an export."""
    h, w = shape
    return (3 * h // 4) | 1, (5 * w // 4) | 1


def format_rows(rows: Sequence[dict]) -> str:
    """The rows of :func:`verify_onnx` as a table: size, output, errors, latency of both
    runtimes and the speed-up of ONNX Runtime."""
    lines = [f"{'size':>11} {'output':>12} {'max abs err':>12} {'rel err':>10} "
             f"{'torch ms':>9} {'ORT ms':>9} {'speedup':>8}"]
    for r in rows:
        size = f"{r['shape'][0]}x{r['shape'][1]}"
        speedup = r['torch_ms'] / r['ort_ms'] if r['ort_ms'] > 0 else float('nan')
        lines.append(f"{size:>11} {r['output']:>12} {r['max_abs']:>12.3g} {r['rel']:>10.3g} "
                     f"{r['torch_ms']:>9.1f} {r['ort_ms']:>9.1f} {speedup:>7.2f}x")
    return '\n'.join(lines)
