"""Eq. 1-6: intra-modal and inter-modal temporal correlation, checked against hand computation."""
import math

import pytest
import torch

from wecl.relations import Embedded, InterModalRelation, IntraModalRelation, ModalityEmbedding, correlation

torch.manual_seed(0)


def _softmax_rows(m: torch.Tensor) -> torch.Tensor:
    e = torch.exp(m - m.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def _set(linear: torch.nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(torch.zeros(weight.shape[0]) if bias is None else bias)


def test_correlation_rows_sum_to_one_and_match_hand_softmax():
    q, k = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    s = correlation(q, k)
    assert s.shape == (2, 5, 5)
    assert torch.allclose(s.sum(-1), torch.ones(2, 5), atol=1e-6)
    for b in range(2):
        by_hand = torch.zeros(5, 5)
        for i in range(5):
            logits = torch.tensor([float(q[b, i] @ k[b, j]) / math.sqrt(8) for j in range(5)])
            by_hand[i] = _softmax_rows(logits)
        assert torch.allclose(s[b], by_hand, atol=1e-6)


def test_correlation_scales_by_sqrt_dk():
    # one-hot query and keys: QK^T has a 1 on the matching key; the 1/sqrt(d_k) makes it 1/2 at d_k=4
    q = torch.tensor([[[1.0, 0, 0, 0]]])
    k = torch.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0]]])
    s = correlation(q, k)[0, 0]
    e = math.exp(0.5)
    assert s.tolist() == pytest.approx([e / (e + 1), 1 / (e + 1)])


def test_embedding_is_three_linear_maps():
    emb = ModalityEmbedding(6, 4)
    f = torch.randn(2, 10, 6)
    e = emb(f)
    assert e.query.shape == e.key.shape == e.value.shape == (2, 10, 4)
    assert torch.allclose(e.query, f @ emb.theta.weight.T + emb.theta.bias)
    assert torch.allclose(e.key, f @ emb.phi.weight.T + emb.phi.bias)
    assert torch.allclose(e.value, f @ emb.g.weight.T + emb.g.bias)


def test_zero_initialised_residuals_are_identity():
    f_v, f_a = torch.randn(2, 10, 6), torch.randn(2, 10, 6)
    emb_v, emb_a = ModalityEmbedding(6, 4), ModalityEmbedding(6, 4)
    e_v, e_a = emb_v(f_v), emb_a(f_a)
    intra = IntraModalRelation(6, 4)
    assert torch.equal(intra.w_z.weight, torch.zeros(6, 4))
    assert torch.equal(intra(f_v, e_v), f_v)
    inter = InterModalRelation(6, 6, 4)
    out_v, out_a = inter(f_v, f_a, e_v, e_a)
    assert torch.equal(out_v, f_v) and torch.equal(out_a, f_a)


def test_intra_modal_by_hand():
    t, c = 4, 3
    f = torch.randn(1, t, c)
    emb = ModalityEmbedding(c, c)
    theta, phi, g = torch.randn(c, c), torch.randn(c, c), torch.randn(c, c)
    _set(emb.theta, theta)
    _set(emb.phi, phi)
    _set(emb.g, g)
    intra = IntraModalRelation(c, c)
    _set(intra.w_z, torch.eye(c))
    x = f[0]
    q, k, v = x @ theta.T, x @ phi.T, x @ g.T
    s = _softmax_rows(q @ k.T / math.sqrt(c))
    expected = x + s @ v  # eq. 4 with W_z = I
    assert torch.allclose(intra(f, emb(f))[0], expected, atol=1e-5)


def test_intra_modal_w_z_scales_the_residual():
    f = torch.randn(1, 5, 3)
    emb = ModalityEmbedding(3, 2)
    e = emb(f)
    intra = IntraModalRelation(3, 2)
    w = torch.randn(3, 2)
    _set(intra.w_z, w)
    z = correlation(e.query, e.key) @ e.value
    assert torch.allclose(intra(f, e), f + z @ w.T, atol=1e-6)


def test_inter_modal_by_hand_queries_from_one_keys_values_from_other():
    t, c = 5, 3
    f_v, f_a = torch.randn(1, t, c), torch.randn(1, t, c)
    e_v = Embedded(torch.randn(1, t, c), torch.randn(1, t, c), torch.randn(1, t, c))
    e_a = Embedded(torch.randn(1, t, c), torch.randn(1, t, c), torch.randn(1, t, c))
    inter = InterModalRelation(c, c, c)
    _set(inter.w_v, torch.eye(c))
    _set(inter.w_a, 2 * torch.eye(c))
    out_v, out_a = inter(f_v, f_a, e_v, e_a)
    u_v = _softmax_rows(e_v.query[0] @ e_a.key[0].T / math.sqrt(c)) @ e_a.value[0]  # eq. 5
    u_a = _softmax_rows(e_a.query[0] @ e_v.key[0].T / math.sqrt(c)) @ e_v.value[0]
    assert torch.allclose(out_v[0], f_v[0] + u_v, atol=1e-5)  # eq. 6
    assert torch.allclose(out_a[0], f_a[0] + 2 * u_a, atol=1e-5)


def test_inter_modal_swap():
    """Swapping the modalities swaps the outputs (same residual weights on both sides), and the
    visual output depends on the audio values, not on the visual ones."""
    t, c = 6, 4
    f_v, f_a = torch.randn(1, t, c), torch.randn(1, t, c)
    e_v = Embedded(*(torch.randn(1, t, c) for _ in range(3)))
    e_a = Embedded(*(torch.randn(1, t, c) for _ in range(3)))
    inter = InterModalRelation(c, c, c)
    w = torch.randn(c, c)
    _set(inter.w_v, w)
    _set(inter.w_a, w)
    out_v, out_a = inter(f_v, f_a, e_v, e_a)
    first, second = inter(f_a, f_v, e_a, e_v)  # audio passed as "visual" and the other way round
    assert torch.allclose(first, out_a, atol=1e-6) and torch.allclose(second, out_v, atol=1e-6)
    # changing the visual values leaves the visual output alone; changing the audio values does not
    e_v2 = Embedded(e_v.query, e_v.key, torch.randn(1, t, c))
    assert torch.allclose(inter(f_v, f_a, e_v2, e_a)[0], out_v)
    e_a2 = Embedded(e_a.query, e_a.key, torch.randn(1, t, c))
    assert not torch.allclose(inter(f_v, f_a, e_v, e_a2)[0], out_v)


def test_relations_keep_batch_items_apart():
    intra = IntraModalRelation(3, 3)
    _set(intra.w_z, torch.eye(3))
    emb = ModalityEmbedding(3, 3)
    f = torch.randn(2, 5, 3)
    both = intra(f, emb(f))
    first = intra(f[:1], emb(f[:1]))
    assert torch.allclose(both[:1], first, atol=1e-6)
