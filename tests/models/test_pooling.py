"""Anatomy membership of tokens against the float-mask definition."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cabench.models.pooling import token_membership, unpack_bits


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.integers(1, 7),
    st.integers(0, 10_000),
)
def test_membership_equals_average_pooled_masks(stride, tokens, remainder, n_anatomies, seed):
    shape = [k * n + r for k, n, r in zip(stride, tokens, remainder, strict=True)]
    bits = torch.randint(0, 256, (2, *shape), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))  # fmt: skip
    masks = unpack_bits(bits, n_anatomies)
    expected = F.avg_pool3d(masks.flatten(0, 1).unsqueeze(1), kernel_size=stride, stride=stride)
    got = token_membership(bits, n_anatomies, stride)
    assert torch.equal(got, expected.view(2, n_anatomies, -1))
