"""Landmark regressors: every backbone builds, output shape and start, weight files."""

import numpy as np
import pytest
import torch
import torchvision

from aniso.models import ARCHS, build_model

N = 5
MEAN = torch.tensor([[8.0, 10.0], [24.0, 10.0], [16.0, 16.0], [10.0, 24.0], [22.0, 24.0]])  # pixels of a 32-px input


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("arch", ARCHS)
def test_every_arch_builds_and_starts_at_the_mean(arch, images):
    torch.manual_seed(0)
    model = build_model(arch, N, mean_shape=MEAN).eval()
    with torch.no_grad():
        out = model(images)
    assert out.shape == (2, N, 2) and out.dtype == torch.float32
    # Head weights ~N(0, 1e-3), bias 0: the first prediction sits within a pixel of the mean shape.
    assert (out - MEAN).abs().max() < 1.0
    assert (out - MEAN).abs().max() > 0  # but it does depend on the image


def test_direct_prediction_starts_near_zero(images):
    model = build_model("resnet18", N).eval()
    assert torch.equal(model.mean_shape, torch.zeros(N, 2))
    with torch.no_grad():
        out = model(images)
    assert out.abs().max() < 0.1


def test_forward_formula_and_output_scale(images):
    torch.manual_seed(1)
    model = build_model("resnet18", N, mean_shape=MEAN.numpy(), output_scale=32.0).eval()
    with torch.no_grad():
        feats = model.backbone(images)
        want = model.head(feats).view(2, N, 2) * 32.0 + MEAN
        got = model(images)
    assert feats.shape == (2, 512)
    torch.testing.assert_close(got, want)
    assert model.head.bias.abs().max() == 0
    assert model.head.weight.detach().std().item() == pytest.approx(1e-3, rel=0.1)


def test_channels_last(images):
    torch.manual_seed(2)
    model = build_model("resnet18", N, mean_shape=MEAN).eval()
    with torch.no_grad():
        ref = model(images)
        model = model.to(memory_format=torch.channels_last)
        out = model(images.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_full_state_dict_round_trip(tmp_path, images):
    torch.manual_seed(3)
    a = build_model("resnet18", N, mean_shape=MEAN).eval()
    with torch.no_grad():
        a.head.weight.normal_(0, 0.05)  # make the head matter
        a.head.bias.uniform_(-1, 1)
    path = tmp_path / "model.pt"
    torch.save(a.state_dict(), path)
    torch.manual_seed(4)
    b = build_model("resnet18", N, weights=path).eval()  # mean_shape comes from the file
    with torch.no_grad():
        torch.testing.assert_close(b(images), a(images))
    torch.testing.assert_close(b.mean_shape, MEAN)
    # A fresh model differs, so the comparison above can fail.
    c = build_model("resnet18", N, mean_shape=MEAN).eval()
    with torch.no_grad():
        assert not torch.allclose(c(images), a(images))


def test_torchvision_backbone_state_dict(tmp_path):
    torch.manual_seed(5)
    net = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18_backbone.pth"
    torch.save(net.state_dict(), path)  # includes the ImageNet fc, which is dropped
    model = build_model("resnet18", N, mean_shape=MEAN, weights=str(path))
    torch.testing.assert_close(model.backbone.conv1.weight, net.conv1.weight)
    torch.testing.assert_close(model.backbone.layer4[1].bn2.running_var, net.layer4[1].bn2.running_var)
    assert model.head.bias.abs().max() == 0  # the head keeps its own start
    # A training checkpoint wrapping a DataParallel state dict loads the same.
    wrapped = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, wrapped)
    again = build_model("resnet18", N, weights=wrapped)
    assert isinstance(again.backbone.fc, torch.nn.Identity)
    torch.testing.assert_close(again.backbone.layer2[0].conv1.weight, net.layer2[0].conv1.weight)


def test_missing_weights_file(tmp_path):
    path = tmp_path / "nowhere" / "resnet50.pth"
    with pytest.raises(FileNotFoundError, match="never downloaded") as err:
        build_model("resnet18", N, weights=path)
    assert str(path) in str(err.value)


def test_mismatched_weights_file(tmp_path):
    torch.manual_seed(6)
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="unexpected keys") as err:
        build_model("resnet18", N, weights=path)
    assert str(path) in str(err.value) and "layer1.2." in str(err.value)
    # A full model with another number of points: a shape mismatch of the head.
    other = tmp_path / "model19.pt"
    torch.save(build_model("resnet18", 19).state_dict(), other)
    with pytest.raises(ValueError, match=r"head.weight: file \(38, 512\) vs model \(10, 512\)") as err:
        build_model("resnet18", N, weights=other)
    assert str(other) in str(err.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        build_model("resnet18", N, weights=junk)


def test_bad_arguments():
    with pytest.raises(ValueError, match="resnet18.*densenet121.*wide_resnet50_2"):
        build_model("vgg16", N)
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        build_model("resnet18", N, mean_shape=np.zeros((4, 2)))
    model = build_model("resnet18", N)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(2, 1, 32, 32))
