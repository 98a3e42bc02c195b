"""nn.optim: optimizers against updates worked out by hand, their state dicts, learning-rate schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_seq import Tensor, nn
from tinygrad_seq.nn.module import load_arrays, save_arrays
from tinygrad_seq.nn.optim import SGD, Adam, AdamW, CosineWithWarmup, StepLR

# Two parameters of two elements each; the gradients given at step 1 and at step 2.
P0 = [np.array([1.0, -2.0]), np.array([0.5, 3.0])]
GRADS = [[np.array([0.5, 0.0]), np.array([2.0, -1.0])],
         [np.array([-1.0, 4.0]), np.array([0.0, 0.5])]]


def run_two_steps(make_optimizer):
    params = [nn.Parameter(p.copy()) for p in P0]
    opt = make_optimizer(params)
    for grads in GRADS:
        for p, g in zip(params, grads):
            p.grad = Tensor(g.copy())
        opt.step()
    return [p.numpy() for p in params]


# ---------------------------------------------------------------------- SGD, by hand


def test_plain_sgd():
    # p1 = p0 - lr g1, p2 = p1 - lr g2 with lr = 0.1
    expected = [np.array([1.0 - 0.05 + 0.1, -2.0 - 0.0 - 0.4]), np.array([0.5 - 0.2 - 0.0, 3.0 + 0.1 - 0.05])]
    for got, want in zip(run_two_steps(lambda ps: SGD(ps, lr=0.1)), expected):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_sgd_with_momentum():
    # b1 = g1; b2 = 0.9 b1 + g2; p2 = p0 - 0.1 (b1 + b2). First element of the first parameter:
    # b1 = 0.5, b2 = 0.45 - 1 = -0.55, p2 = 1 - 0.05 + 0.055 = 1.005.
    got = run_two_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9))
    b1 = [g.copy() for g in GRADS[0]]
    b2 = [0.9 * b + g for b, g in zip(b1, GRADS[1])]
    assert got[0][0] == pytest.approx(1.005, rel=1e-14)
    for p, p0, x, y in zip(got, P0, b1, b2):
        np.testing.assert_allclose(p, p0 - 0.1 * (x + y), rtol=1e-14)


def test_sgd_with_nesterov_momentum():
    # The step uses g + momentum * b. First element of the first parameter:
    # b1 = 0.5, step 0.5 + 0.45 = 0.95, p1 = 0.905; b2 = -0.55, step -1 - 0.495 = -1.495, p2 = 1.0545.
    got = run_two_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True))
    assert got[0][0] == pytest.approx(1.0545, rel=1e-14)
    b1 = GRADS[0]
    b2 = [0.9 * b + g for b, g in zip(b1, GRADS[1])]
    for p, p0, x, g1, y, g2 in zip(got, P0, b1, GRADS[0], b2, GRADS[1]):
        np.testing.assert_allclose(p, p0 - 0.1 * (g1 + 0.9 * x) - 0.1 * (g2 + 0.9 * y), rtol=1e-14)


def test_sgd_with_weight_decay_momentum_and_dampening():
    # g' = g + 0.1 p; b1 = g1'; b2 = 0.9 b1 + (1 - 0.5) g2'. First element of the first parameter:
    # g1' = 0.6, p1 = 0.94; g2' = -1 + 0.094 = -0.906, b2 = 0.54 - 0.453 = 0.087, p2 = 0.94 - 0.0087 = 0.9313.
    got = run_two_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1))
    assert got[0][0] == pytest.approx(0.9313, rel=1e-13)
    for p, p0, g1, g2 in zip(got, P0, GRADS[0], GRADS[1]):
        b1 = g1 + 0.1 * p0
        p1 = p0 - 0.1 * b1
        b2 = 0.9 * b1 + 0.5 * (g2 + 0.1 * p1)
        np.testing.assert_allclose(p, p1 - 0.1 * b2, rtol=1e-13)


def test_sgd_checks_its_arguments():
    p = [nn.Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0 and dampening = 0"):
        SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        SGD(p + p, lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        SGD(p, lr=-1.0)


# ---------------------------------------------------------------------- Adam and AdamW, by hand


def adam_by_hand(lr, b1, b2, eps, weight_decay=0.0, decoupled=False):
    """The textbook algorithm, with bias-corrected moments m^ = m / (1 - b1^t), v^ = v / (1 - b2^t)."""
    out = []
    for i, p in enumerate(P0):
        p, m, v = p.copy(), 0.0, 0.0
        for t, grads in enumerate(GRADS, start=1):
            g = grads[i]
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(p)
    return out


def test_adam_first_step_moves_each_weight_by_lr():
    # With bias correction the first step is lr * g / (|g| + eps): about lr in the direction of -g.
    params = [nn.Parameter(np.array([1.0, -2.0, 0.0]))]
    params[0].grad = Tensor(np.array([0.5, -30.0, 0.0]))
    Adam(params, lr=0.1).step()
    np.testing.assert_allclose(params[0].numpy(), [0.9, -1.9, 0.0], rtol=1e-7)


@pytest.mark.parametrize("eps", [1e-8, 0.01])  # a large eps shows where eps is added
def test_adam(eps):
    got = run_two_steps(lambda ps: Adam(ps, lr=0.1, betas=(0.9, 0.999), eps=eps))
    for p, want in zip(got, adam_by_hand(0.1, 0.9, 0.999, eps)):
        np.testing.assert_allclose(p, want, rtol=1e-12)


def test_adam_with_l2_weight_decay():
    got = run_two_steps(lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.2))
    for p, want in zip(got, adam_by_hand(0.05, 0.8, 0.99, 1e-3, weight_decay=0.2)):
        np.testing.assert_allclose(p, want, rtol=1e-12)


def test_adamw_decays_the_weights_directly():
    got = run_two_steps(lambda ps: AdamW(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.2))
    for p, want in zip(got, adam_by_hand(0.05, 0.8, 0.99, 1e-3, weight_decay=0.2, decoupled=True)):
        np.testing.assert_allclose(p, want, rtol=1e-12)
    assert AdamW([nn.Parameter(np.zeros(1))]).weight_decay == 1e-2
    # Not the same as L2 decay through the moments:
    l2 = run_two_steps(lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.2))
    assert not np.allclose(got[0], l2[0])


# ---------------------------------------------------------------------- step mechanics


def test_step_skips_parameters_without_gradients_and_zero_grad_clears_them():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = Adam([a, b], lr=0.1)
    a.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(b.numpy(), 1.0)
    assert opt.state_dict()["state.0.step"] == 1 and "state.1.step" not in opt.state_dict()
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_a_graph_built_before_a_step_cannot_be_backpropagated_after_it():
    lin = nn.Linear(3, 2, rng=np.random.default_rng(0))
    opt = SGD(lin.parameters(), lr=0.1)
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    lin(x).sum().backward()
    stale = lin(x).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place after the forward pass"):
        stale.backward()


def test_a_float32_model_stays_float32_and_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3
    model = nn.Linear(3, 1, rng=rng)
    opt = Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = nn.MSELoss()(model(Tensor(x)), Tensor(y))
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4
    assert model.weight.dtype == np.float32
    np.testing.assert_allclose(model.weight.numpy(), [[1.0, -2.0, 0.5]], atol=1e-2)


# ---------------------------------------------------------------------- state dicts


def train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = Tensor(rng.normal(size=(8, 4)).astype(np.float32))
        opt.zero_grad()
        (model(x).tanh() ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: Adam(ps, lr=0.01),
    lambda ps: AdamW(ps, lr=0.01, betas=(0.8, 0.95)),
])
def test_optimizer_state_round_trips_through_one_npz_and_training_continues_identically(tmp_path, make):
    model = nn.Sequential(nn.Linear(4, 5, rng=np.random.default_rng(0)), nn.Linear(5, 2, rng=0))
    opt = make(model.parameters())
    train(model, opt, steps=3, seed=1)
    path = tmp_path / "checkpoint.npz"
    save_arrays(path, {**{f"model.{k}": v for k, v in model.state_dict().items()},
                       **{f"optim.{k}": v for k, v in opt.state_dict().items()}})

    resumed = nn.Sequential(nn.Linear(4, 5, rng=np.random.default_rng(5)), nn.Linear(5, 2, rng=6))
    resumed_opt = make(resumed.parameters())
    resumed_opt.lr = 123.0  # restored from the file
    arrays = load_arrays(path)
    resumed.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
    resumed_opt.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")})
    assert resumed_opt.lr == opt.lr and resumed_opt.steps == opt.steps == 3

    train(model, opt, steps=3, seed=2)
    train(resumed, resumed_opt, steps=3, seed=2)
    for (name, a), b in zip(model.named_parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_optimizer_state_dict_is_flat_and_a_copy():
    p = nn.Parameter(np.zeros(3))
    p.grad = Tensor(np.ones(3))
    opt = Adam([p], lr=0.01, betas=(0.5, 0.6))
    opt.step()
    state = opt.state_dict()
    assert sorted(state) == ["betas", "eps", "lr", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step",
                             "step", "weight_decay"]
    np.testing.assert_array_equal(state["betas"], [0.5, 0.6])
    np.testing.assert_allclose(state["state.0.exp_avg"], 0.5)
    state["state.0.exp_avg"][:] = 7.0
    np.testing.assert_allclose(opt.state_dict()["state.0.exp_avg"], 0.5)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update({"state.1.exp_avg": np.zeros((3, 1))}),
     r"key 'state.1.exp_avg': the state has shape \(3, 1\), parameter 1 has shape \(3,\)"),
    (lambda s: s.update({"state.0.momentum_buffer": np.zeros((2, 3))}),
     r"unexpected key 'state.0.momentum_buffer'"),
    (lambda s: s.update({"state.2.exp_avg": np.zeros(3)}),
     r"key 'state.2.exp_avg': the optimizer has only 2"),
    (lambda s: s.pop("betas"), r"missing key 'betas'"),
    (lambda s: s.pop("state.1.exp_avg_sq"), r"missing key 'state.1.exp_avg_sq'"),
])
def test_optimizer_load_state_dict_with_bad_keys_raises_naming_them_and_changes_nothing(change, message):
    params = [nn.Parameter(np.zeros((2, 3))), nn.Parameter(np.zeros(3))]
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt = Adam(params, lr=0.01)
    opt.step()
    state = opt.state_dict()
    change(state)
    other = Adam(params, lr=0.5)
    with pytest.raises(nn.StateDictError, match=message):
        other.load_state_dict(state)
    assert other.lr == 0.5 and other.steps == 0 and other.state_dict()["step"] == 0
    assert not any(k.startswith("state.") for k in other.state_dict())


# ---------------------------------------------------------------------- schedules


def test_step_lr_sequence():
    opt = SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    lrs = [sched.get_lr()] + [sched.step() for _ in range(6)]
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert opt.lr == 0.125


def test_cosine_with_warmup_sequence_and_the_optimizer_uses_it():
    p = nn.Parameter(np.zeros(1))
    opt = SGD([p], lr=1.0)
    sched = CosineWithWarmup(opt, warmup_steps=2, total_steps=6, min_lr=0.1)
    lrs = []
    for _ in range(8):
        lrs.append(opt.lr)
        before = p.numpy().copy()
        p.grad = Tensor(np.ones(1))
        opt.step()
        assert before - p.numpy() == pytest.approx(lrs[-1])  # the step used the scheduled rate
        sched.step()
    cos = lambda q: 0.1 + 0.9 * (1 + math.cos(math.pi * q)) / 2
    assert lrs == pytest.approx([0.5, 1.0, 1.0, cos(0.25), cos(0.5), cos(0.75), 0.1, 0.1], rel=1e-12)


def test_schedule_state_round_trips():
    opt = Adam([nn.Parameter(np.zeros(1))], lr=1e-3)
    sched = CosineWithWarmup(opt, warmup_steps=10, total_steps=100)
    for _ in range(37):
        sched.step()
    again = CosineWithWarmup(Adam([nn.Parameter(np.zeros(1))], lr=5.0), warmup_steps=10, total_steps=100)
    again.load_state_dict(sched.state_dict())
    assert again.get_lr() == sched.get_lr() == again.optimizer.lr
    assert again.step() == sched.step()
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        CosineWithWarmup(opt, warmup_steps=5, total_steps=5)
