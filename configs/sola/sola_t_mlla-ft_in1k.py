# SoLA-Vision-T, the default hybrid pattern (LL / LLLL / LLLSLLLS / LLLS), fine-tuned on
# ImageNet-1K from MLLA-T's weights: 30 epochs, AdamW 1e-4 (the softmax blocks' qkv 1e-3),
# 2 linear warm-up epochs, then cosine to 1e-6; otherwise the recipe of sola_t_in1k.py
# (augmentation, label smoothing, EMA, MESA from 25% of the epochs on).
#
# The weights: MLLA-T's published ImageNet-1K classifier (github.com/LeapLabTHU/MLLA), downloaded
# once into torch's hub cache ($TORCH_HOME/hub/checkpoints/mlla_t_in1k.pth) and converted on load
# for this model's hybrid pattern (README, "Pretrained weights"). Its 'L' blocks, stem,
# downsamples and head are MLLA's trained ones; its 'S' blocks are warm starts (wrapper, norms,
# MLP and LePE of their 'L' block, q and k from its `qk`, v = identity), which this run trains.
# On a machine without internet: copy MLLA's file to that cache path, or set load_from to its
# conversion, `python tools/model_converters/mlla2sola.py MLLA_T.pth OUT.pth --pattern default`.
#
# Why this schedule:
# - What is left to learn is small and local: 15 of 18 blocks (32 of 36 in S / B) already compute
#   MLLA's ImageNet features; the 'S' blocks' attention is new (q, k were trained for linear
#   attention, v starts as the identity) and the blocks after them see slightly changed inputs.
#   So the data side stays the from-scratch recipe's (the augmentation MLLA was trained with)
#   and only how far the weights move changes.
# - lr 1e-4, a tenth of the from-scratch peak: the trained weights should stay near MLLA's
#   minimum; at 1e-3 they would drift away (forget) before the softmax blocks have adapted.
# - The softmax attention's qkv (S blocks, and the softmax half of H blocks) at 10x, i.e. 1e-3:
#   those projections are learned nearly anew, at the rate the from-scratch recipe trains every
#   layer at with this batch size (known stable there).
# - 30 epochs (37.5k iterations of 1024 images), a tenth of the 300: the usual length of an
#   ImageNet fine-tune, and about 4 time constants of the EMA (1 / momentum = 10k iterations),
#   so that the EMA weights that are validated and that MESA distils from are the fine-tuned
#   model rather than the warm start. MESA starts at epoch 8 (25%), after about one time
#   constant.
# - 2 warm-up epochs (2.5k iterations): the optimizer starts fresh (load_from loads weights
#   only), and until AdamW's second-moment estimate has settled (~1 / (1 - beta2) = 1000 steps)
#   every weight moves by about the lr whatever its gradient, which would shake the trained
#   blocks. Short against the 30 epochs (a warm-up longer than the schedule is refused).
# - Cosine down to 1e-6, the from-scratch recipe's floor relative to its peak (1e-5 of 1e-3).
_base_ = ['./sola_t_in1k.py']

load_from = 'https://cloud.tsinghua.edu.cn/f/7a19712877cb4242889c/?dl=1'  # MLLA-T

# the arch's default layer_pattern (hybrid): the one the weights are converted for
train_cfg = dict(max_epochs=30)
optim_wrapper = dict(
    optimizer=dict(lr=1e-4),
    paramwise_cfg=dict(custom_keys={
        '.qkv.weight': dict(lr_mult=10.0),
        '.qkv.bias': dict(lr_mult=10.0, decay_mult=0.0),  # biases decay 0, as elsewhere
    }))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=2),
    dict(_base_.param_scheduler[1], begin=2, eta_min=1e-6),
]
