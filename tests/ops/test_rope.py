"""The 2-D RoPE encodes relative grid offsets, and its transpose undoes it."""
import pytest
import torch

from mmsola.ops.rope import apply_rope_2d, rope_2d_angles, rotate, rotate_transposed


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
