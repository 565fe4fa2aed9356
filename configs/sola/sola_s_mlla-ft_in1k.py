# SoLA-Vision-S, the default hybrid pattern (LLL / LLLLLL / (LLLLLLS) x 3 / LLLLLS), fine-tuned
# on ImageNet-1K from MLLA-S's weights: the schedule of sola_t_mlla-ft_in1k.py (its comments say
# why) with the small arch, as sola_s_in1k.py sets it (tests/test_configs check that the two agree
# but for the schedule and the weights): MLLA-S's published ImageNet-1K classifier,
# converted on load (offline: as in the tiny config).
_base_ = ['./sola_t_mlla-ft_in1k.py']

load_from = 'https://cloud.tsinghua.edu.cn/f/0e5d0b1409d540aaa80c/?dl=1'  # MLLA-S

model = dict(
    arch='small', backbone=dict(drop_path_rate=_base_.sola_archs.small.drop_path_in1k))
custom_hooks = [
    _base_.ema_hook, dict(_base_.mesa_hook, weight=_base_.sola_archs.small.mesa_in1k),
    *_base_.reliability_hooks
]
