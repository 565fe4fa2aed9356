# SoLA-Vision-B, the default hybrid pattern (LLL / LLLLLL / (LLLLLLS) x 3 / LLLLLS), fine-tuned
# on ImageNet-1K from MLLA-B's weights: the schedule of sola_t_mlla-ft_in1k.py (its comments say
# why) with the base arch, as sola_b_in1k.py sets it (tests/test_configs check that the two agree
# but for the schedule and the weights): MLLA-B's published ImageNet-1K classifier,
# converted on load (offline: as in the tiny config).
_base_ = ['./sola_t_mlla-ft_in1k.py']

load_from = 'https://cloud.tsinghua.edu.cn/f/91c85c5a1061496d8796/?dl=1'  # MLLA-B

model = dict(
    arch='base', backbone=dict(drop_path_rate=_base_.sola_archs.base.drop_path_in1k))
custom_hooks = [
    _base_.ema_hook, dict(_base_.mesa_hook, weight=_base_.sola_archs.base.mesa_in1k),
    *_base_.reliability_hooks
]
