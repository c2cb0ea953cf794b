import math

import pytest
import torch
import torch.nn.functional as F

from ladkit.losses import cwd_loss, dist_loss, dual_path_consistency, kd_loss, seg_ce_loss


def test_seg_ce_with_aux_and_ignore():
    out = torch.randn(2, 3, 4, 4)
    aux = torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    target[0, 0, 0] = 255
    keep = target != 255
    logp = F.log_softmax(out, 1).permute(0, 2, 3, 1)[keep]
    ref = -logp.gather(1, target[keep][:, None]).mean()
    logp_a = F.log_softmax(aux, 1).permute(0, 2, 3, 1)[keep]
    ref_a = -logp_a.gather(1, target[keep][:, None]).mean()
    got = seg_ce_loss({"out": out, "aux": aux}, target, aux_weight=0.4)
    assert torch.allclose(got, ref + 0.4 * ref_a, atol=1e-6)
    assert torch.allclose(seg_ce_loss({"out": out}, target), ref, atol=1e-6)


def test_kd_matches_hand_computation():
    s, t, tau = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3), 4.0
    ps, pt = (s / tau).softmax(1), (t / tau).softmax(1)
    ref = (pt * (pt.log() - ps.log())).sum(1).mean() * tau**2
    assert torch.allclose(kd_loss(s, t, tau), ref, atol=1e-6)


def test_cwd_matches_hand_computation():
    n, c, h, w, tau = 2, 3, 4, 5, 4.0
    s, t = torch.randn(n, c, h, w), torch.randn(n, c, h, w)
    total = 0.0
    for i in range(n):
        for k in range(c):
            ps = (s[i, k].flatten() / tau).softmax(0)
            pt = (t[i, k].flatten() / tau).softmax(0)
            total += float((pt * (pt.log() - ps.log())).sum())
    ref = total / (n * c) * tau**2
    assert math.isclose(float(cwd_loss(s, t, tau)), ref, rel_tol=1e-5)
    assert float(cwd_loss(t, t, tau)) == pytest.approx(0.0, abs=1e-6)


def test_finite_for_extreme_logits():
    s = torch.tensor([[[[1e4, -1e4]], [[-1e4, 1e4]]]])  # (1, 2, 1, 2)
    t = -s
    for fn in (kd_loss, cwd_loss, dist_loss):
        v = fn(s, t, 1.0)
        assert torch.isfinite(v) and v > 0
    assert torch.isfinite(dual_path_consistency(s, t, 1.0, "cwd"))


def test_dual_path_symmetric_with_detached_targets():
    a = torch.randn(2, 3, 4, 4, requires_grad=True)
    b = torch.randn(2, 3, 4, 4, requires_grad=True)
    for kind in ("cwd", "kl", "mse"):
        v1 = dual_path_consistency(a, b, 4.0, kind)
        v2 = dual_path_consistency(b, a, 4.0, kind)
        assert torch.allclose(v1, v2)
    # gradient w.r.t. a comes only from the direction in which a is the prediction
    v = dual_path_consistency(a, b, 4.0, "cwd")
    (ga,) = torch.autograd.grad(v, a)
    (ref,) = torch.autograd.grad(cwd_loss(a, b.detach(), 4.0), a)
    assert torch.allclose(ga, ref, atol=1e-6)
    with pytest.raises(ValueError, match="unknown consistency kind"):
        dual_path_consistency(a, b, 4.0, "l1")


def test_student_logits_resized_to_teacher():
    """A student at another resolution is compared after a bilinear resize to the teacher's size:
    exactly the loss of the resized logits, and zero for a teacher that is that resize."""
    s, t = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 8, 8)
    resized = torch.nn.functional.interpolate(s, size=(8, 8), mode="bilinear", align_corners=False)
    for loss in (cwd_loss, kd_loss, dist_loss):
        torch.testing.assert_close(loss(s, t), loss(resized, t))
        assert float(loss(s, resized)) == pytest.approx(0.0, abs=1e-5) and float(loss(s, t)) > 0.01
    with pytest.raises(ValueError, match="differ in batch or class count"):
        cwd_loss(torch.randn(1, 2, 8, 8), t)


def test_dist_matches_pearson_correlations_one_by_one():
    """DIST as torch.corrcoef gives it, one pixel and one class at a time, in float64."""
    n, c, h, w = 2, 5, 3, 4
    s, t = torch.randn(n, c, h, w) * 2, torch.randn(n, c, h, w) * 2
    for tau, beta, gamma in ((1.0, 1.0, 1.0), (2.5, 0.7, 1.3)):
        ps = (s.double() / tau).softmax(1).permute(0, 2, 3, 1).reshape(-1, c)
        pt = (t.double() / tau).softmax(1).permute(0, 2, 3, 1).reshape(-1, c)
        inter = [torch.corrcoef(torch.stack([ps[i], pt[i]]))[0, 1] for i in range(n * h * w)]
        intra = [torch.corrcoef(torch.stack([ps[:, k], pt[:, k]]))[0, 1] for k in range(c)]
        ref = (beta * (1 - torch.stack(inter).mean()) + gamma * (1 - torch.stack(intra).mean())) * tau**2
        assert float(dist_loss(s, t, tau, beta, gamma)) == pytest.approx(float(ref), rel=1e-5)
        assert float(ref) > 0.1  # far from the equal-inputs zero


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_dist_is_zero_for_the_teacher_and_blind_to_a_per_pixel_shift(tau):
    s, t = torch.randn(2, 6, 8, 8) * 3, torch.randn(2, 6, 8, 8) * 3
    assert float(dist_loss(t, t, tau)) == pytest.approx(0.0, abs=1e-6 * tau**2)
    shift = torch.randn(2, 1, 8, 8) * 10  # the same softmax at every pixel
    torch.testing.assert_close(dist_loss(s + shift, t, tau), dist_loss(s, t, tau), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dist_loss(s, t - shift, tau), dist_loss(s, t, tau), rtol=1e-5, atol=1e-5)
    assert float(dist_loss(s, t, tau)) > 0.01


def test_dist_gradient_reaches_the_student_only_and_stays_finite():
    s = torch.randn(2, 4, 5, 5, requires_grad=True)
    t = torch.randn(2, 4, 5, 5, requires_grad=True)
    dist_loss(s, t).backward()
    assert t.grad is None and s.grad.abs().sum() > 0
    # a uniform student (every logit equal) has a constant class vector at every pixel: its
    # correlation is 0, not 0/0
    uniform = torch.zeros(2, 4, 5, 5, requires_grad=True)
    loss = dist_loss(uniform, t)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(uniform.grad).all()
