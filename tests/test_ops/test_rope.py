"""The 2-D RoPE encodes relative grid offsets, its transpose undoes it, and its one layout
(MLLA's) follows the rule written out token by token and MLLA's own RoPE."""
import pytest
import torch

from mmsola.ops.rope import (
    apply_rope_2d,
    rope_2d_angles,
    rope_2d_cos_sin,
    rotate,
    rotate_transposed,
)
from tests.support.rope_reference import mlla_rope, mlla_to_heads, rope_reference


def test_scores_depend_only_on_the_row_and_column_offset():
    """q at (r, c) and k at (r', c'): rope(q) . rope(k) is a function of (r' - r, c' - c)."""
    h, w, d = 5, 7, 16
    q, k = torch.randn(d, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
    grid_q = apply_rope_2d(q.expand(h * w, d).clone(), (h, w)).view(h, w, d)
    grid_k = apply_rope_2d(k.expand(h * w, d).clone(), (h, w)).view(h, w, d)
    score = lambda a, b: (grid_q[a] * grid_k[b]).sum()  # noqa: E731
    torch.testing.assert_close(score((0, 0), (2, 3)), score((2, 3), (4, 6)))
    torch.testing.assert_close(score((1, 2), (1, 2)), (q * k).sum())
    # a row offset and the same column offset are encoded differently
    assert not torch.allclose(score((0, 0), (2, 0)), score((0, 0), (0, 2)))


def test_rotation_keeps_norms_and_its_transpose_inverts_it():
    x = torch.randn(2, 3, 12, 32, dtype=torch.float64)
    angles = rope_2d_angles((3, 4), 32, dtype=torch.float64)
    cos, sin = angles.cos(), angles.sin()
    rotated = rotate(x, cos, sin)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotate_transposed(rotated, cos, sin), x)


def test_grid_must_match_tokens_and_head_dim_must_divide_by_four():
    with pytest.raises(ValueError, match='height \\* width == N = 12'):
        apply_rope_2d(torch.randn(1, 12, 16), (5, 3))
    with pytest.raises(ValueError, match='divisible by 4'):
        apply_rope_2d(torch.randn(1, 12, 18), (3, 4))


@pytest.mark.parametrize('heads,d,hw', [(1, 16, (3, 5)), (3, 16, (3, 5)), (2, 8, (5, 3)),
                                         (4, 16, (2, 7))])
def test_rope_follows_the_rule(heads, d, hw):
    """Against the rule written out token by token (tests/support/rope_reference.py); 3 heads: the
    middle head turns half its pairs with the row, half with the column."""
    x = torch.randn(2, heads, hw[0] * hw[1], d, dtype=torch.float64)
    torch.testing.assert_close(apply_rope_2d(x, hw), rope_reference(x, hw), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize('heads,d,hw', [(3, 16, (3, 5)), (2, 8, (5, 3)), (4, 32, (2, 7))])
def test_rope_is_mllas_up_to_the_qk_row_permutation(heads, d, hw):
    """MLLA rotates the full width before the head split, adjacent channels (2P, 2P + 1) as
    one pair; permuted into heads (pair P = h * d/2 + p -> channels (p, p + d/2) of head h),
    mmsola's RoPE gives exactly its result, so converted weights compute what MLLA does."""
    x = torch.randn(2, hw[0] * hw[1], heads * d, dtype=torch.float64)
    ours = apply_rope_2d(mlla_to_heads(x, heads), hw)
    torch.testing.assert_close(ours, mlla_to_heads(mlla_rope(x, hw), heads), rtol=1e-12,
                               atol=1e-12)
    # each head sees its own band: head 1 does not turn like head 0
    alike = mlla_to_heads(x, heads)[:, :1].expand(-1, heads, -1, -1)
    rotated = apply_rope_2d(alike, hw)
    assert not torch.allclose(rotated[:, 0], rotated[:, 1])


def test_cos_sin_cache_keys_on_the_heads():
    four = rope_2d_cos_sin((3, 5), 16, 4)
    assert four[0].shape == (4, 15, 8) and rope_2d_cos_sin((3, 5), 16, 1)[0].shape == (15, 8)
    assert rope_2d_cos_sin((3, 5), 16, 4)[0] is four[0]  # cached
    assert rope_2d_cos_sin((3, 5), 16, 2)[0].shape == (2, 15, 8)  # keyed on heads
