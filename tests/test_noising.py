import pytest
import torch

from ladkit.noising import fixed_codebook, label_channels, noise_labels


def _labels(b=4, h=32, w=32, k=5):
    g = torch.Generator().manual_seed(0)
    lab = torch.randint(0, k, (b, h, w), generator=g)
    lab[:, :2] = 255
    return lab


def test_same_id_same_code_without_pixel_noise():
    lab = _labels()
    out = noise_labels(lab, 5, noise_std=0.0)
    assert out.shape == (4, 1, 32, 32)
    for b in range(4):
        for k in [0, 1, 2, 3, 4, 255]:
            vals = out[b, 0][lab[b] == k]
            assert torch.all(vals == vals[0])
    # different ids get different codes (continuous draws never tie)
    codes = [out[0, 0][lab[0] == k][0].item() for k in [0, 1, 2, 3, 4, 255]]
    assert len(set(codes)) == 6


def test_codes_redrawn_per_call_and_per_image():
    lab = _labels()
    lab[1] = lab[0]
    a = noise_labels(lab, 5, noise_std=0.0)
    b = noise_labels(lab, 5, noise_std=0.0)
    assert not torch.equal(a, b)
    assert not torch.equal(a[0], a[1])  # same label map, different image slot: new codes


def test_code_std_matches_scale_and_pixel_noise_std():
    k = 150
    lab = torch.arange(k).repeat_interleave(4).expand(2000, 1, -1)  # 2000 images, 4 pixels a class
    out = noise_labels(lab, k, noise_std=0.0, scale=2.0)
    codes = out[:, 0, 0, ::4]  # one pixel per class
    assert abs(codes.std().item() - 2.0) < 0.05
    noisy = noise_labels(lab, k, noise_std=0.5, scale=1.0, generator=torch.Generator().manual_seed(1))
    clean = noise_labels(lab, k, noise_std=0.0, scale=1.0, generator=torch.Generator().manual_seed(1))
    assert abs((noisy - clean).std().item() - 0.5) < 0.01


def test_fixed_codebook_identical_across_images():
    lab = _labels()
    lab[1] = lab[0]
    out = noise_labels(lab, 5, mode="fixed", noise_std=0.0)
    assert torch.equal(out[0], out[1])
    book = fixed_codebook(5)
    assert torch.allclose(out[0, 0][lab[0] == 3], book[3].expand(int((lab[0] == 3).sum())))
    assert torch.allclose(out[0, 0][lab[0] == 255], book[5].expand(int((lab[0] == 255).sum())))


def test_onehot_channels_and_ignore():
    lab = _labels()
    out = noise_labels(lab, 5, mode="onehot", noise_std=0.0)
    assert out.shape == (4, 5, 32, 32) and label_channels("onehot", 5) == 5
    assert torch.equal(out.argmax(1)[lab != 255], lab[lab != 255])
    assert torch.all(out.permute(0, 2, 3, 1)[lab == 255] == 0)


def test_generator_makes_it_deterministic():
    lab = _labels()
    a = noise_labels(lab, 5, generator=torch.Generator().manual_seed(3))
    b = noise_labels(lab, 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [5, 7, -1, 254])
def test_out_of_range_ids_raise_naming_value(bad):
    lab = _labels()
    lab[0, 5, 5] = bad
    with pytest.raises(ValueError, match=rf"label id {bad} is out of range"):
        noise_labels(lab, 5)


def test_bad_mode_and_shape():
    with pytest.raises(ValueError, match="unknown noise mode"):
        noise_labels(_labels(), 5, mode="blur")
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        noise_labels(_labels()[0], 5)


@pytest.mark.parametrize("mode", ["random", "fixed", "onehot"])
def test_no_host_sync_off_the_cpu(mode):
    # Meta tensors have no data: any read back to the host (.item(), bool(), an isnan(sum) check)
    # raises, so this passing shows the step's device path checks ids with torch._assert_async only.
    # ids_checked is what a training step passes (its loader checked the ids on the CPU).
    labels = torch.zeros(2, 8, 8, dtype=torch.long, device="meta")
    out = noise_labels(labels, 5, mode=mode, ids_checked=True)
    assert out.device.type == "meta" and out.shape == (2, label_channels(mode, 5), 8, 8)
    with pytest.raises(RuntimeError, match="meta"):  # a direct call checks fully, which reads back
        noise_labels(labels, 5, mode=mode)


def test_ids_checked_still_checks_on_the_cpu():
    lab = _labels()
    lab[1, 2, 3] = 7
    with pytest.raises(ValueError, match="label id 7 is out of range"):
        noise_labels(lab, 5, ids_checked=True)


def test_ignore_index_inside_the_class_range_is_refused_or_kept_apart():
    labels = torch.tensor([[[0, 1, 9]]])
    out = noise_labels(labels, 3, ignore_index=9, mode="fixed", noise_std=0.0)
    assert out[0, 0, 0, 2] == fixed_codebook(3)[3]  # ignore takes the codebook's last code
    with pytest.raises(ValueError, match="ignore_index must be >= 0"):
        noise_labels(labels, 3, ignore_index=-1)
