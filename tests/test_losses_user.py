"""Tests for user losses named "package.module:attribute": the worked example in
examples/my_losses.py resolves and runs, and bad references (written into
temporary modules) fail before any training with messages naming them."""

from __future__ import annotations

import hashlib
import importlib
import sys
import textwrap
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))  # what PYTHONPATH=examples does for a user

from loss_helpers import S68, hand_shape, moved, noisy, shape  # noqa: E402

import my_losses  # noqa: E402

from aniso import losses as L  # noqa: E402

REF = "my_losses:corner_weighted_l1"


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write ``name.py`` with the given source into an importable tmp folder; forget it afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text("import torch\n" + textwrap.dedent(source))
        importlib.invalidate_caches()
        written.append(name)
        return path

    yield write
    for name in written:
        sys.modules.pop(name, None)


class TestExample:
    def test_resolves_to_the_function(self):
        assert L.resolve_loss(REF) is my_losses.corner_weighted_l1
        assert L.resolve_loss("my_losses:CornerWeightedL1") is my_losses.CornerWeightedL1

    def test_known_values(self):
        z = hand_shape()
        m = L.make_loss(REF, scheme="300w")
        assert isinstance(m, L.UserLoss) and m.scheme is S68
        # eye corner 36 moved (3, -4): 2 * 7; jaw point 5 moved (3, -4): 7
        assert m(moved(moved(z, 36, (3.0, -4.0)), 5, (3.0, -4.0)), z).item() == pytest.approx(21.0, rel=1e-12)
        m3 = L.make_loss(REF, scheme="300w", corner_weight=3.0)
        assert m3(moved(z, 36, (3.0, -4.0)), z).item() == pytest.approx(21.0, rel=1e-12)
        # every point moved by (1, 1): 2 per point, corners weighted
        n_corners = len(S68.corners)
        assert m(z + 1.0, z).item() == pytest.approx(2.0 * (68 - n_corners) + 2.0 * 2.0 * n_corners, rel=1e-12)

    def test_class_form_equals_function_form(self):
        z = shape(68, seed=70, batch=3)
        p = noisy(z, 70)
        fn = L.make_loss(REF, scheme=S68, corner_weight=4.0)
        cls = L.make_loss("my_losses:CornerWeightedL1", scheme=S68, corner_weight=4.0)
        assert isinstance(cls.loss, my_losses.CornerWeightedL1) and "loss" in dict(cls.named_children())
        assert torch.equal(fn(p, z), cls(p, z))

    def test_probe_passes_and_leaves_the_global_rng_alone(self):
        state = torch.random.get_rng_state()
        L.probe_loss(L.make_loss(REF, scheme="wflw"), "wflw", REF)
        assert torch.equal(state, torch.random.get_rng_state())

    def test_source_hash_is_the_files_sha1(self):
        want = hashlib.sha1((EXAMPLES / "my_losses.py").read_bytes()).hexdigest()
        assert L.loss_source_hash(REF) == want
        assert L.loss_source_hash("my_losses:CornerWeightedL1") == want


class TestBadReferences:
    def test_missing_module(self):
        with pytest.raises(L.LossReferenceError, match=r"'no_such_losses_mod:f'.*cannot be imported.*PYTHONPATH"):
            L.make_loss("no_such_losses_mod:f", scheme=S68)

    def test_module_that_fails_to_import(self, user_module):
        user_module("broken_losses", "raise RuntimeError('half-written file')\n")
        with pytest.raises(L.LossReferenceError, match="importing module 'broken_losses' raised RuntimeError: half"):
            L.resolve_loss("broken_losses:f")

    def test_missing_attribute(self):
        with pytest.raises(L.LossReferenceError, match=r"'my_losses:nope'.*my_losses\.py\) has no attribute 'nope'"):
            L.make_loss("my_losses:nope", scheme=S68)

    @pytest.mark.parametrize("ref", ["my_losses", "my_losses:", ":f", "a:b:c", "my losses:f"])
    def test_malformed_reference(self, ref):
        with pytest.raises(L.LossReferenceError, match="expected 'package.module:attribute'"):
            L.resolve_loss(ref)

    def test_wrong_signature(self, user_module):
        user_module("sig_losses", """
            def two(pred, target):
                return (pred - target).abs().sum()

            class Mod(torch.nn.Module):
                def forward(self, pred, target):
                    return (pred - target).abs().sum()
        """)
        for ref in ("sig_losses:two", "sig_losses:Mod"):
            with pytest.raises(L.LossReferenceError, match=f"'{ref}': wrong signature .*must accept"):
                L.make_loss(ref, scheme=S68)

    def test_not_a_loss(self, user_module):
        user_module("kind_losses", "CONST = 3\nclass Plain:\n    def __call__(self, p, t, s):\n        return 0\n")
        with pytest.raises(L.LossReferenceError, match="'kind_losses:CONST'.*neither a function"):
            L.resolve_loss("kind_losses:CONST")
        with pytest.raises(L.LossReferenceError, match="class Plain is not a torch.nn.Module subclass"):
            L.resolve_loss("kind_losses:Plain")

    @pytest.mark.parametrize(
        "body,match",
        [("return (pred - target).sum() * float('nan')", r"returned nan"),
         ("return (pred - target).abs().sum(dim=(1, 2))", r"returned shape \(2,\), expected a scalar"),
         ("return (pred - target).abs().sum().item()", "returned float, expected a scalar torch.Tensor"),
         ("return (pred - target).detach().abs().sum()", "without gradient"),
         ("return target.sum() * torch.ones((), requires_grad=True)", "gradient with respect to pred is missing"),
         ("raise KeyError('left eye')", "raised KeyError: 'left eye'")],
    )
    def test_probe_rejects(self, user_module, body, match):
        user_module("probe_losses", f"def loss(pred, target, scheme):\n    {body}\n")
        L.resolve_loss("probe_losses:loss")  # import and signature are fine ...
        with pytest.raises(L.LossReferenceError, match=r"'probe_losses:loss': the probe call on a random "
                                                       r"\(2, 68, 2\) batch.*" + match):
            L.make_loss("probe_losses:loss", scheme=S68)  # ... the probe is not

    def test_parameters_are_checked(self, user_module):
        user_module("param_losses", """
            def loss(pred, target, scheme, gain):
                return gain * (pred - target).abs().sum()

            class Mod(torch.nn.Module):
                def __init__(self, gain=1.0):
                    super().__init__()
                    if gain <= 0:
                        raise ValueError("gain must be > 0")
                    self.gain = gain

                def forward(self, pred, target, scheme):
                    return self.gain * (pred - target).abs().sum()

            instance = Mod()
        """)
        with pytest.raises(L.LossReferenceError, match="cannot be called with .*unexpected keyword argument 'colour'"):
            L.make_loss("param_losses:loss", scheme=S68, gain=1.0, colour=2)
        with pytest.raises(L.LossReferenceError, match="cannot be called with .*missing a required argument: 'gain'"):
            L.make_loss("param_losses:loss", scheme=S68)
        assert L.make_loss("param_losses:loss", scheme=S68, gain=2.0).params == {"gain": 2.0}
        with pytest.raises(L.LossReferenceError, match=r"Mod\(\*\*\{'gain': -1\}\) raised ValueError: gain must"):
            L.make_loss("param_losses:Mod", scheme=S68, gain=-1)
        with pytest.raises(L.LossReferenceError, match="instance takes no parameters"):
            L.make_loss("param_losses:instance", scheme=S68, gain=2.0)
        assert isinstance(L.make_loss("param_losses:instance", scheme=S68), L.UserLoss)

    def test_scheme_is_required(self):
        with pytest.raises(L.LossReferenceError, match="scheme is required"):
            L.make_loss(REF)

    def test_source_hash_follows_the_file_and_the_defining_module(self, user_module):
        path = user_module("hashed_losses", "def loss(pred, target, scheme):\n    return (pred - target).abs().sum()\n")
        user_module("reexport_losses", "from hashed_losses import loss\n")
        first = L.loss_source_hash("hashed_losses:loss")
        assert first == hashlib.sha1(path.read_bytes()).hexdigest()
        assert L.loss_source_hash("reexport_losses:loss") == first  # hashed where it is defined
        path.write_text(path.read_text() + "# edited\n")
        assert L.loss_source_hash("hashed_losses:loss") != first
        with pytest.raises(L.LossReferenceError, match="cannot be imported"):
            L.loss_source_hash("no_such_losses_mod:f")


def test_reference_is_not_a_built_in_name():
    assert "my_losses:corner_weighted_l1" not in L.LOSS_NAMES
    with pytest.raises(ValueError, match="or a user loss 'package.module:attribute'"):
        L.make_loss("my_losses.corner_weighted_l1")
