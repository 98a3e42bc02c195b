"""nn.module: registration order and names, modes, state dicts and checkpoint files (atomic writes)."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from tinygrad_seq import Tensor, nn
from tinygrad_seq.autograd import is_grad_enabled
from tinygrad_seq.nn.module import atomic_write, evaluating, load_arrays, save_arrays


class Block(nn.Module):
    def __init__(self, dim: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim, rng=rng)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(0.5, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.norm(self.proj(x).tanh()))


class Net(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.embed = nn.Embedding(10, 4, rng=rng)
        self.layers = nn.ModuleList([Block(4, rng), Block(4, rng)])
        self.head = nn.Sequential(nn.Linear(4, 6, rng=rng), nn.Linear(6, 10, bias=False, rng=rng))
        self.scale = nn.Parameter(np.float32(2.0))

    def forward(self, ids: np.ndarray) -> Tensor:
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(x) * self.scale


NET_NAMES = [
    ("scale", ()),
    ("embed.weight", (10, 4)),
    ("layers.0.proj.weight", (4, 4)), ("layers.0.proj.bias", (4,)),
    ("layers.0.norm.weight", (4,)), ("layers.0.norm.bias", (4,)),
    ("layers.1.proj.weight", (4, 4)), ("layers.1.proj.bias", (4,)),
    ("layers.1.norm.weight", (4,)), ("layers.1.norm.bias", (4,)),
    ("head.0.weight", (6, 4)), ("head.0.bias", (6,)), ("head.1.weight", (10, 6)),
]
IDS = np.array([[1, 2, 3], [4, 5, 9]])


def params_of(module: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.numpy().copy() for name, p in module.named_parameters()}


def assert_same_params(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# ---------------------------------------------------------------------- names and order


def test_named_parameters_have_dotted_names_in_registration_order():
    # A module's own parameters come first, then each submodule's, depth first, in the order they were set.
    net = Net()
    assert [(n, p.shape) for n, p in net.named_parameters()] == NET_NAMES
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert net.num_parameters() == sum(int(np.prod(s)) for _, s in NET_NAMES)
    modules = [name for name, _ in net.named_modules()]
    assert modules[:5] == ["", "embed", "layers", "layers.0", "layers.0.proj"]


def test_a_shared_parameter_or_module_is_listed_once():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.embed.weight  # weight tying
            self.again = self.embed

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["embed.weight"]
    assert [n for n, _ in tied.named_modules()] == ["", "embed", "out"]
    assert list(tied.state_dict()) == ["embed.weight"]


def test_replacing_an_attribute_keeps_its_place_and_kind():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    lin.bias = nn.Parameter(np.zeros(2, dtype=np.float32))  # a parameter where there was None
    assert isinstance(lin.bias, nn.Parameter) and [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.weight = nn.Parameter(np.ones((2, 3), dtype=np.float32))  # replaced in place: the order holds
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(lin.state_dict()["weight"], 1.0)
    lin.bias = None
    assert lin.bias is None and list(lin.state_dict()) == ["weight"]


def test_module_calls_label_their_nodes_with_the_attribute_name():
    net = Net()
    out = net.layers[1].proj(Tensor(np.ones((2, 4), dtype=np.float32)))
    assert out.grad_fn.scope == ("proj",)  # called directly: the attribute it is stored under
    inner = []

    class Spy(nn.Module):
        def forward(self, x):
            y = x * 2.0
            inner.append(y.grad_fn.scope)
            return y

    holder = nn.Module()
    holder.blocks = nn.ModuleList([Spy(), Spy()])
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    for block in holder.blocks:
        block(x)
    assert inner == [("blocks.0",), ("blocks.1",)]


# ---------------------------------------------------------------------- modes and gradients


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    first = net(IDS).numpy()
    np.testing.assert_array_equal(first, net(IDS).numpy())  # dropout is off in eval mode
    net.train()
    assert all(m.training for m in net.modules())
    assert not np.array_equal(net(IDS).numpy(), first)


def test_astype_converts_parameters_gradients_and_float_buffers():
    net = Net()
    net.register_buffer("table", np.ones(3, dtype=np.float32))
    net.register_buffer("counts", np.arange(3))
    net(IDS).sum().backward()
    assert net.astype(np.float64) is net
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.table.dtype == np.float64 and net.counts.dtype == np.arange(3).dtype
    assert net.eval()(IDS).dtype == np.float64


def test_zero_grad_clears_every_gradient():
    net = Net()
    net(IDS).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_functional_call_swaps_parameters_only_for_the_call():
    lin = nn.Linear(3, 2, rng=np.random.default_rng(0))
    original = lin.weight
    w = Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    out = nn.functional_call(lin, {"weight": w}, Tensor(np.ones((1, 3), dtype=np.float32)))
    np.testing.assert_array_equal(out.numpy(), lin.bias.numpy()[None])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones((2, 3)))
    assert lin.weight is original and original.grad is None
    with pytest.raises(KeyError, match="no parameter or buffer 'weights'"):
        nn.functional_call(lin, {"weights": w}, Tensor(np.ones((1, 3), dtype=np.float32)))


# ---------------------------------------------------------------------- state dicts


def test_state_dict_round_trips_through_save_and_load(tmp_path):
    net, other = Net(seed=0).eval(), Net(seed=1).eval()
    assert not np.array_equal(net(IDS).numpy(), other(IDS).numpy())
    path = tmp_path / "ckpt" / "net.npz"
    net.save(path)
    assert sorted(zipfile.ZipFile(path).namelist()) == sorted(f"{n}.npy" for n, _ in NET_NAMES)
    other.load(path)
    assert_same_params(params_of(other), params_of(net))
    np.testing.assert_array_equal(other(IDS).numpy(), net(IDS).numpy())
    state = net.state_dict()  # the weights' own arrays, as torch's state_dict shares storage
    snapshot = {k: v.copy() for k, v in state.items()}
    state["head.0.bias"][:] = 99.0
    assert np.all(net.head[0].bias.numpy() == 99.0)
    net.load_state_dict(snapshot)  # written into the same arrays, as torch copies into its tensors
    assert state["head.0.bias"] is net.head[0].bias.numpy()
    np.testing.assert_array_equal(state["head.0.bias"], snapshot["head.0.bias"])


def test_load_state_dict_accepts_plain_numpy_arrays_of_another_dtype():
    net = Net()
    state = {name: np.full(shape, 0.25, dtype=np.float64) for name, shape in NET_NAMES}
    net.load_state_dict(state)
    for _, p in net.named_parameters():
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.numpy(), 0.25)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("layers.1.norm.bias"), r"missing key 'layers.1.norm.bias' \(shape \(4,\)\)"),
    (lambda s: s.update({"layers.2.proj.weight": np.zeros((4, 4))}),
     r"unexpected key 'layers.2.proj.weight'"),
    (lambda s: s.update({"head.0.weight": np.zeros((4, 6))}),
     r"key 'head.0.weight': the checkpoint has shape \(4, 6\), the model \(6, 4\)"),
])
def test_load_state_dict_with_bad_keys_raises_naming_them_and_changes_nothing(change, message):
    net, before = Net(seed=0), params_of(Net(seed=0))
    state = Net(seed=1).state_dict()
    change(state)
    with pytest.raises(KeyError, match=message):
        net.load_state_dict(state)
    assert_same_params(params_of(net), before)


def test_load_state_dict_reports_every_problem_at_once_and_non_strict_skips_missing():
    net = Net()
    state = net.state_dict()
    del state["scale"]
    state["extra"] = np.zeros(1)
    state["embed.weight"] = np.zeros((3, 4))
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(state)
    text = str(info.value)
    assert "missing key 'scale'" in text and "unexpected key 'extra'" in text and "(3, 4)" in text
    del state["embed.weight"]
    state["head.1.weight"] = np.ones((10, 6))
    net.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(net.head[1].weight.numpy(), 1.0)
    with pytest.raises(KeyError, match=r"checkpoint has shape \(1,\)"):
        net.load_state_dict({"scale": np.zeros(1)}, strict=False)


# ---------------------------------------------------------------------- checkpoint files


def test_a_corrupt_or_truncated_checkpoint_raises_clearly_and_changes_nothing(tmp_path):
    net = Net(seed=0)
    before = params_of(net)
    good = tmp_path / "good.npz"
    Net(seed=1).save(good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint at all" * 10)
    flipped = tmp_path / "flipped.npz"  # one bit changed inside an array: the zip checksum catches it
    corrupt = bytearray(data)
    corrupt[zipfile.ZipFile(good).infolist()[1].header_offset - 1] ^= 0x01  # the last byte of the first array
    flipped.write_bytes(bytes(corrupt))
    for path in (truncated, garbage, flipped):
        with pytest.raises(ValueError, match=r"is not a readable \.npz file.*nothing was loaded"):
            net.load(path)
        assert_same_params(params_of(net), before)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        net.load(tmp_path / "missing.npz")


def test_an_interrupted_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    net = Net(seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    old = path.read_bytes()
    real_savez = np.savez

    def savez_then_crash(file, **arrays):
        file.write(b"PK\x03\x04 half of a zip")  # some bytes reach the disk, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez_then_crash)
    with pytest.raises(KeyboardInterrupt):
        Net(seed=1).save(path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["net.npz"]
    fresh = Net(seed=2)
    fresh.load(path)
    assert_same_params(params_of(fresh), params_of(net))


def test_save_arrays_refuses_what_would_need_pickle(tmp_path):
    with pytest.raises(TypeError, match="'names' is an object array"):
        save_arrays(tmp_path / "x.npz", {"names": np.array([{"a": 1}], dtype=object)})
    assert os.listdir(tmp_path) == []
    save_arrays(tmp_path / "x.npz", {"step": 3, "lr": 0.5, "w": np.arange(3)})
    loaded = load_arrays(tmp_path / "x.npz")
    assert int(loaded["step"]) == 3 and float(loaded["lr"]) == 0.5
    np.testing.assert_array_equal(loaded["w"], np.arange(3))


def test_atomic_write_syncs_before_renaming_and_keeps_the_old_file_on_error(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "picture.png"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.path.exists(path)), real_fsync(fd)))
    with atomic_write(path) as f:
        f.write(b"first")
    assert path.read_bytes() == b"first" and synced == [False]  # on disk before it takes the name
    with pytest.raises(OSError, match="No space left"):
        with atomic_write(path) as f:
            f.write(b"sec")
            raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"first" and os.listdir(path.parent) == ["picture.png"]


@pytest.mark.parametrize("mode", [True, False])
def test_evaluating_sets_eval_mode_and_no_grad_then_restores_both(mode):
    net = Net(seed=0)
    net.train(mode)
    with evaluating(net):
        assert not net.training and not is_grad_enabled()
        assert not net(np.array([[1, 2]])).requires_grad
    assert net.training is mode and is_grad_enabled()
    with pytest.raises(RuntimeError, match="inside"):
        with evaluating(net):
            raise RuntimeError("inside")
    assert net.training is mode and is_grad_enabled()


@pytest.mark.parametrize("make", [
    lambda d: nn.Linear(3, 2, dtype=d),
    lambda d: nn.Embedding(5, 3, dtype=d),
    lambda d: nn.LayerNorm(3, dtype=d),
    lambda d: nn.RNN(3, 2, dtype=d),
    lambda d: nn.LSTM(3, 2, bidirectional=True, dtype=d),
    lambda d: nn.GRU(3, 2, num_layers=2, dtype=d),
    lambda d: nn.LSTMCell(3, 2, dtype=d),
    lambda d: nn.MultiheadAttention(4, 2, dtype=d),
    lambda d: nn.MultiheadAttention(4, 2, kdim=3, vdim=5, dtype=d),
    lambda d: nn.TransformerEncoderLayer(4, 2, 8, dtype=d),
    lambda d: nn.TransformerDecoderLayer(4, 2, 8, dtype=d),
    lambda d: nn.LearnedPositionalEncoding(6, 4, dtype=d),
], ids=["linear", "embedding", "layernorm", "rnn", "bilstm", "gru2", "lstmcell", "mha", "mha-kv", "encoder",
        "decoder", "positions"])
def test_every_layer_with_parameters_builds_them_in_the_dtype_asked(make):
    for dtype in (np.float32, np.float64):
        params = dict(make(dtype).named_parameters())
        assert params
        assert {name: p.dtype for name, p in params.items()} == dict.fromkeys(params, np.dtype(dtype))
