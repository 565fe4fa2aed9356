# What the SoLA-Vision configs need per arch beyond SoLAVision.arch_zoo: the stage widths that
# necks and heads take (tests/test_configs checks them against the backbone's num_features), the
# drop-path rates of the ImageNet and the dense recipes, and mesa_in1k, the weight of MLLA's EMA
# self-distillation term (its cfgs/mlla_*.yaml AUG.MESA).
sola_archs = dict(
    tiny=dict(channels=[64, 128, 256, 512], drop_path_in1k=0.2, drop_path_dense=0.2,
              mesa_in1k=1.0),
    small=dict(channels=[64, 128, 256, 512], drop_path_in1k=0.3, drop_path_dense=0.3,
               mesa_in1k=1.5),
    base=dict(channels=[96, 192, 384, 768], drop_path_in1k=0.5, drop_path_dense=0.4,
              mesa_in1k=2.0),
)
