"""``tools/train.py --amp`` on a machine without CUDA: bf16 autocast on the CPU.

The tiny UperNet-SoLA trains 20 iterations with a finite, decreasing loss. Inside, the
linear-attention op receives bfloat16 q, k, v (the autocast dtype: they come out of bf16
Linear layers) and computes in float32 with autocast off: its feature maps, its (d x d) state
``KV`` and normaliser sums are fp32, and only its output is rounded back to bf16.
"""
import json

import pytest
import torch

from mmsola.ops.linear_attention import op as linear_attention_op
from tests.support import tool_runs
from tests.support.fake_data import write_ade20k
from tests.support.small_runs import SMALL_UPERNET

pytestmark = [pytest.mark.usefixtures('one_torch_thread'), pytest.mark.slow,
              pytest.mark.skipif(torch.cuda.is_available(),
                                 reason='--amp uses the GPU where there is one')]

CONFIG = 'configs/upernet_sola_t_ade20k.py'
ITERS = 20


def _train_losses(work_dir) -> list:
    """The loss of each training iteration, from the run's json log."""
    log, = (p for p in work_dir.glob('*/vis_data/*.json') if p.name != 'scalars.json')
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [line['loss'] for line in lines if 'loss' in line]


def test_amp_on_cpu_trains_in_bf16_with_the_op_in_fp32(tmp_path, monkeypatch):
    calls = []

    def recording(name, impl):
        def run(*args, **kwargs):
            outputs = impl(*args, **kwargs)
            calls.append(dict(op=name, inputs=args[0].dtype,
                              autocast=torch.is_autocast_enabled('cpu'),
                              outputs=[o.dtype for o in outputs]))
            return outputs
        return run

    for name in ('linear_attention_torch_fwd', 'linear_attention_torch_bwd'):
        monkeypatch.setattr(linear_attention_op, name,
                            recording(name, getattr(linear_attention_op, name)))

    data_root = write_ade20k(tmp_path / 'ade')
    work_dir = tmp_path / 'work'
    # no warm-up and lr 1e-2 (fine-tuning's 6e-5 would not move in 20 iterations)
    options = tool_runs.tiny_options(
        CONFIG, data_root, work_dir, iters=ITERS, extra=[
            *SMALL_UPERNET, 'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            'default_hooks.checkpoint.save_best=None', 'param_scheduler.0.start_factor=1.0',
            'optim_wrapper.optimizer.lr=0.01'])
    runner_model = tool_runs.train(CONFIG, options, '--amp')

    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'CPUAutocastOptimWrapper' in log
    losses = _train_losses(work_dir)
    assert len(losses) == ITERS and all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, losses

    forward = [c for c in calls if c['op'] == 'linear_attention_torch_fwd']
    backward = [c for c in calls if c['op'] == 'linear_attention_torch_bwd']
    assert forward and backward
    # q, k, v in bf16 (autocast was on around the op); inside, autocast off; out: o in bf16,
    # the KV state and the sum of phi(k) in fp32
    assert all(c['inputs'] == torch.bfloat16 and not c['autocast'] and c['outputs'] == [
        torch.bfloat16, torch.float32, torch.float32] for c in forward), forward[:2]
    assert all(c['inputs'] == torch.bfloat16 and not c['autocast']
               and c['outputs'] == [torch.bfloat16] * 3 for c in backward), backward[:2]
    # the weights the optimizer updates stay fp32
    assert all(p.dtype == torch.float32 for p in runner_model.parameters())
