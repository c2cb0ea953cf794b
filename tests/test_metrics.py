import math

import pytest
import torch
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassJaccardIndex

from ladkit.metrics import ConfusionMatrix


def test_hand_example():
    cm = ConfusionMatrix(3)
    target = torch.tensor([[0, 0, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 2]])
    cm.update(pred, target)
    r = cm.compute()
    assert r["iou"][0] == pytest.approx(0.5) and r["iou"][1] == pytest.approx(0.5)
    assert math.isnan(r["iou"][2])  # absent from target and (non-ignored) prediction
    assert r["miou"] == pytest.approx(0.5)
    assert r["pixel_acc"] == pytest.approx(2 / 3)


def test_cross_check_against_torchmetrics():
    g = torch.Generator().manual_seed(0)
    k = 6
    ours = ConfusionMatrix(k)
    tm_iou = MulticlassJaccardIndex(num_classes=k, ignore_index=255, average="none")
    tm_cm = MulticlassConfusionMatrix(num_classes=k, ignore_index=255)
    for _ in range(4):
        target = torch.randint(0, k - 1, (2, 16, 16), generator=g)  # class k-1 never in target
        target[torch.rand(2, 16, 16, generator=g) < 0.1] = 255
        pred = torch.where(torch.rand(2, 16, 16, generator=g) < 0.6, target.clamp(max=k - 1),
                           torch.randint(0, k - 1, (2, 16, 16), generator=g))
        pred[pred == 255] = 0
        ours.update(pred, target)
        tm_iou.update(pred, target)
        tm_cm.update(pred, target)
    r = ours.compute()
    assert torch.equal(torch.tensor(r["confusion"]), tm_cm.compute())
    ref = tm_iou.compute()
    present = ~torch.isnan(torch.tensor(r["iou"]))
    assert torch.allclose(torch.tensor(r["iou"])[present].float(), ref[present], atol=1e-6)
    assert r["miou"] == pytest.approx(float(ref[present].mean()), abs=1e-6)


def test_bad_input():
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.zeros(2, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="target id 7 is out of range"):
        cm.update(torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 7]]))
