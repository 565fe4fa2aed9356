"""MESAHook: MLLA's EMA self-distillation term, on a small SoLA-Vision classifier with the
ImageNet recipe's Mixup/CutMix and label smoothing. It is off before its start and adds exactly
``w * CE(logits, softmax(EMA logits))`` after (checked against torch's own soft-target cross
entropy on the same mixed batch), through the model's train_step and OptimWrapper, under
autocast, and through MMDistributedDataParallel; and tools/train.py switches it on after a
quarter of the epochs.
"""
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('mmpretrain')

pytestmark = pytest.mark.usefixtures('one_torch_thread')

NUM_CLASSES = 5
WEIGHT = 1.5


def _classifier(drop_path: float = 0.3):
    """A 6-block SoLA-Vision-T-shaped classifier with sola_t_in1k's head loss and augments."""
    from mmsola.models.classifiers.sola_vision_cls import build_sola_vision_cls
    torch.manual_seed(0)
    model = build_sola_vision_cls(
        arch='tiny', num_classes=NUM_CLASSES, embed_dims=16,
        layer_pattern=['L', 'L', 'LS', 'S'], drop_path_rate=drop_path, attn_backend='torch',
        head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
                  cal_acc=False),
        data_preprocessor=dict(num_classes=NUM_CLASSES, mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], to_rgb=True),
        train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
    return model.train()  # the constructor's init (init_weights only logs more)


def _batch(seed: int, size: int = 4):
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, 32, 32), generator=gen, dtype=torch.uint8)
              for _ in range(size)]
    samples = [DataSample().set_gt_label(int(torch.randint(NUM_CLASSES, (1, ), generator=gen)))
               for _ in range(size)]
    return dict(inputs=inputs, data_samples=samples)


def _mixed(model, seed: int):
    """The batch after the data preprocessor's Mixup/CutMix (what the loss and the teacher
    see), with soft targets in ``gt_score``."""
    import numpy as np
    np.random.seed(seed)
    torch.manual_seed(seed)
    data = model.data_preprocessor(_batch(seed), True)
    assert 'gt_score' in data['data_samples'][0]  # mixed: soft targets
    return data


def _hooked(model, begin_ratio=0.5, max_iters=4):
    """MESAHook set up as a runner would (iteration-based loop of ``max_iters``; ``model`` may
    be DDP-wrapped), with the EMA model of a real EMAHook, its weights moved away from the
    student's."""
    from mmengine.hooks import EMAHook

    from mmsola.engine import MESAHook
    runner = SimpleNamespace(model=model, train_loop=None, max_iters=max_iters, iter=0,
                             epoch=0)
    model = getattr(model, 'module', model)
    ema = EMAHook(momentum=1e-4)
    ema.before_run(runner)
    ema.ema_model.update_parameters(model)  # the first update copies the student
    with torch.no_grad():  # a teacher that differs: nothing could pass by coincidence
        gen = torch.Generator().manual_seed(1)
        for p in ema.ema_model.module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    runner.hooks = [ema]
    mesa = MESAHook(weight=WEIGHT, begin_ratio=begin_ratio)
    mesa.before_train(runner)
    return runner, ema, mesa


def _expected_term(model, teacher, inputs, seed):
    """By hand: w * torch's cross entropy with probability targets, the student's logits
    from the same random state (drop path) as its loss forward, the teacher in eval mode."""
    torch.manual_seed(seed)
    logits = model(inputs, mode='tensor')
    with torch.no_grad():
        probs = copy.deepcopy(teacher).eval()(inputs, mode='tensor').softmax(dim=-1)
    return WEIGHT * F.cross_entropy(logits, probs)


def test_off_before_its_start_then_adds_exactly_the_term():
    model = _classifier()
    runner, ema, mesa = _hooked(model, begin_ratio=0.5, max_iters=4)  # on from iteration 2
    teacher = ema.ema_model.module
    data = _mixed(model, seed=3)

    plain = []
    for it in (0, 1):
        runner.iter = it
        mesa.before_train_iter(runner, it)
        torch.manual_seed(10)
        losses = model(**data, mode='loss')
        assert not mesa.active and set(losses) == {'loss'}, f'iteration {it}'
        plain.append(losses['loss'])
    assert torch.equal(plain[0], plain[1])

    runner.iter = 2
    mesa.before_train_iter(runner, 2)
    assert mesa.active
    torch.manual_seed(10)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'loss_mesa'}
    torch.testing.assert_close(losses['loss'], plain[0])  # the recipe's own loss unchanged
    expected = _expected_term(model, teacher, data['inputs'], seed=10)
    torch.testing.assert_close(losses['loss_mesa'], expected, rtol=1e-6, atol=1e-6)
    total, log_vars = model.parse_losses(losses)
    torch.testing.assert_close(total, plain[0] + expected, rtol=1e-6, atol=1e-6)
    assert set(log_vars) == {'loss', 'loss_mesa'}

    # the teacher gets no gradient and is left in the mode it was in
    assert teacher.training and not any(p.requires_grad for p in teacher.parameters())
    total.backward()
    assert all(p.grad is None for p in teacher.parameters())

    # predictions and evaluation-mode losses are never touched
    model.eval()
    assert set(model(**data, mode='loss')) == {'loss'}
    mesa.after_train(runner)
    model.train()
    assert set(model(**data, mode='loss')) == {'loss'}  # hooks removed after training


def test_gradients_are_those_of_the_recipe_loss_plus_the_term():
    model = _classifier()
    runner, ema, mesa = _hooked(model, begin_ratio=0.0)
    mesa.before_train_iter(runner, 0)
    data = _mixed(model, seed=4)
    torch.manual_seed(5)
    total, _ = model.parse_losses(model(**data, mode='loss'))
    grads = torch.autograd.grad(total, list(model.parameters()), allow_unused=True)

    mesa.after_train(runner)
    torch.manual_seed(5)
    recipe = model(**data, mode='loss')['loss']
    by_hand = recipe + _expected_term(model, ema.ema_model.module, data['inputs'], seed=5)
    want = torch.autograd.grad(by_hand, list(model.parameters()), allow_unused=True)
    # one graph vs two summed: float32 rounding differs (measured 3e-6 of the norm; the term
    # itself changes every gradient by 9% of its norm or more)
    for (name, _), g, w in zip(model.named_parameters(), grads, want):
        if w is None:
            assert g is None, name
        else:
            assert (g - w).norm() <= 3e-5 * w.norm(), name


def test_train_step_through_optim_wrapper_steps_with_the_term():
    from mmengine.optim import OptimWrapper
    model = _classifier(drop_path=0.)
    runner, ema, mesa = _hooked(model, begin_ratio=0.0)
    mesa.before_train_iter(runner, 0)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3),
                           clip_grad=dict(max_norm=5.0))
    before = copy.deepcopy(model.state_dict())
    import numpy as np
    np.random.seed(0)
    log_vars = model.train_step(_batch(0), wrapper)
    assert set(log_vars) == {'loss', 'loss_mesa'} and log_vars['loss_mesa'] > 0
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any('head' in k for k in changed) and any('backbone' in k for k in changed)


def test_under_autocast_the_term_is_float32_and_matches():
    model = _classifier(drop_path=0.)
    runner, ema, mesa = _hooked(model, begin_ratio=0.0)
    mesa.before_train_iter(runner, 0)
    data = _mixed(model, seed=6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        term = model(**data, mode='loss')['loss_mesa']
    assert term.dtype == torch.float32
    reference = model(**data, mode='loss')['loss_mesa']
    torch.testing.assert_close(term, reference, rtol=5e-2, atol=5e-2)


def test_needs_exactly_one_ema_hook():
    from mmsola.engine import MESAHook
    model = _classifier()
    runner = SimpleNamespace(model=model, hooks=[], train_loop=None, max_iters=4)
    with pytest.raises(ValueError, match="EMAHook.*custom_hooks"):
        MESAHook(weight=1.0).before_train(runner)


@pytest.mark.parametrize('kwargs, message', [
    (dict(weight=0.0), 'weight must be > 0'),
    (dict(weight=1.0, begin_ratio=1.0), r'begin_ratio must be in \[0, 1\)'),
    (dict(weight=1.0, loss_name='mesa'), "must contain 'loss'"),
])
def test_bad_arguments_are_refused(kwargs, message):
    from mmsola.engine import MESAHook
    with pytest.raises(ValueError, match=message):
        MESAHook(**kwargs)


def _sgd_step(model, wrapped=None):
    """One train_step with the term on (SGD, lr 1) on a fixed batch; what it subtracted from
    each parameter (the gradient) and the logged losses."""
    import numpy as np
    from mmengine.optim import OptimWrapper
    wrapped = wrapped or model
    runner, _, mesa = _hooked(wrapped, begin_ratio=0.0)
    mesa.before_train_iter(runner, 0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    np.random.seed(7)
    torch.manual_seed(7)
    log_vars = wrapped.train_step(_batch(7), OptimWrapper(torch.optim.SGD(model.parameters(),
                                                                        lr=1.0)))
    mesa.after_train(runner)
    return {n: before[n] - p.detach() for n, p in model.named_parameters()}, log_vars


def test_under_ddp_the_step_is_the_single_process_one(tmp_path):
    """MMDistributedDataParallel (gloo, one process) around the classifier: the hooks run
    inside DDP's forward, so its reducer takes the term's gradient like the model's own."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel

    plain_steps, plain_log = _sgd_step(_classifier(drop_path=0.))
    # a file store: no TCP port to pick (and lose to another process)
    dist.init_process_group('gloo', init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        model = _classifier(drop_path=0.)
        steps, log_vars = _sgd_step(model, MMDistributedDataParallel(module=model))
    finally:
        dist.destroy_process_group()
    assert set(log_vars) == {'loss', 'loss_mesa'}
    assert float(log_vars['loss_mesa']) == pytest.approx(float(plain_log['loss_mesa']),
                                                         rel=1e-6)
    for name, step in plain_steps.items():
        assert (steps[name] - step).norm() <= 1e-5 * step.norm() + 1e-12, name


def test_tools_train_turns_the_term_on_after_a_quarter_of_the_epochs(tmp_path):
    """sola_t_in1k.py through tools/train.py on the tiny fake ImageNet: 4 epochs of one
    iteration, the term logged from the 2nd (int(0.25 * 4) = 1, 0-based) on."""
    import json

    from tests.support import tool_runs
    from tests.support.fake_data import write_imagenet
    config = 'configs/sola_t_in1k.py'
    data_root, work_dir = write_imagenet(tmp_path / 'imagenet', num_classes=2), tmp_path / 'w'
    # a quarter of the width, one validation pass (the last epoch's) and no checkpoints:
    # the loss log is the point
    quiet = ['model.backbone.embed_dims=16', 'train_cfg.val_interval=100',
             'default_hooks.checkpoint.interval=100', 'default_hooks.checkpoint.save_last=False',
             'default_hooks.checkpoint.save_best=None']
    tool_runs.train(config, tool_runs.tiny_options(config, data_root, work_dir, iters=1,
                                                   epochs=4, extra=quiet))
    log, = work_dir.glob('*/vis_data/scalars.json')
    train = [json.loads(line) for line in log.read_text().splitlines()]
    train = [r for r in train if 'loss' in r]
    assert [r['epoch'] for r in train] == [1, 2, 3, 4]
    assert ['loss_mesa' in r for r in train] == [False, True, True, True]
    assert all(r['loss_mesa'] > 0 for r in train[1:])
