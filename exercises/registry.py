"""The exercises: for each, its lesson, what the learner writes, hints from gentle to explicit, its check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import check_lm, check_nodes, check_rnn, check_shapes
from .checking import Context

__all__ = ["EXERCISES", "Exercise", "find"]

@dataclass(frozen=True)
class Exercise:
    """One exercise: `writes` names what the learner defines in NAME.py, `check` marks it (checking.py)."""

    name: str
    title: str
    lesson: str  # the title of its lesson's page, e.g. "2. BPTT is a sum over time"
    writes: tuple[str, ...]
    hints: tuple[str, ...]
    check: Callable[[dict[str, Any], Context], list[str]]

    @property
    def number(self) -> int:
        return EXERCISES.index(self) + 1

    @property
    def link(self) -> str:
        """The lesson's page of the documentation site, from the repository root: docs/lessons/NN_name.md."""
        return f"docs/lessons/{LESSON_PAGES[int(self.lesson.split('.')[0])]}.md"


# each lesson's page by its number: docs/lessons/NN_name.md, named after its script demos/NN_name.py
LESSON_PAGES = {
    1: "01_tiny_char_rnn", 2: "02_bptt_sum", 3: "03_vanishing", 4: "04_clipping", 5: "05_long_range",
    6: "06_truncated_bptt", 7: "07_rnn_shapes", 8: "08_bidirectional", 9: "09_hidden_state",
    10: "10_attention", 11: "11_language_model", 12: "12_sampling", 13: "13_char_vs_word",
    14: "14_seq2seq", 15: "15_multihead", 16: "16_skip_connections",
}


EXERCISES: tuple[Exercise, ...] = (
    Exercise("rnn_step", "one-hot vectors and an RNN step, forward", "1. A tiny character RNN learns "
                                                                     "\"hello\"",
             ("one_hot", "rnn_step_forward"),
             ("one_hot: start from np.zeros((B, V)) and set one element per row with integer-array indexing.",
              "rnn_step_forward is one line: tanh of the sum of two matrix products and the bias. Check the "
              "shapes: x @ W_xh is (B, D) @ (D, H) -> (B, H).",
              "out[np.arange(len(ids)), ids] = 1.0;  return np.tanh(x @ W_xh + h_prev @ W_hh + b)"),
             check_rnn.check_rnn_step),
    Exercise("rnn_step_backward", "the RNN step's backward, as a Function", "2. BPTT is a sum over time",
             ("RNNStep",),
             ("Write the chain rule through h = tanh(z) first: dz = dh_next * tanh'(z), and tanh'(z) = 1 - "
              "h_next**2 uses the output you saved.",
              "Each gradient has the shape of its input. dW_xh is (D, H): the only product of x (B, D) and "
              "dz (B, H) with that shape is x.T @ dz. The bias was broadcast over the batch, so db sums dz "
              "over axis 0.",
              "dz = dh_next * (1 - h_next**2); return dz @ W_xh.T, dz @ W_hh.T, x.T @ dz, h_prev.T @ dz, "
              "dz.sum(0)"),
             check_rnn.check_rnn_step_backward),
    Exercise("bptt", "backpropagation through time by hand", "2. BPTT is a sum over time",
             ("rnn_forward", "rnn_backward"),
             ("Go backwards in time, t = T-1 down to 0, carrying dh_next: h[t] gets gradient from the loss "
              "at t (dhs[t]) and from step t+1 (dh_next), and the two add up.",
              "The weights are used at every step, so their gradients are sums: start them at zero and add "
              "each step's share (xs[t].T @ dz, h[t-1].T @ dz, dz.sum(0)). At t = 0, h[t-1] is h0.",
              "dz = (dhs[t] + dh_next) * (1 - hs[t]**2); dxs[t] = dz @ W_xh.T; dh_next = dz @ W_hh.T; after "
              "the loop, dh_next is dh0."),
             check_rnn.check_bptt),
    Exercise("clipping", "gradient clipping by the global norm", "4. Gradient clipping", ("clip_grad_norm",),
             ("The global norm treats all arrays as one long vector: add up the squares of every element of "
              "every array, then take one square root.",
              "Scale only when the norm is too large, and scale every array by the same factor.",
              "total = sqrt(sum(np.sum(g * g) for g in grads)); factor = max_norm / (total + 1e-6); if "
              "factor < 1, multiply each array by it."),
             check_rnn.check_clipping),
    Exercise("truncated_bptt", "truncated BPTT: the loop with detach", "6. Truncated BPTT",
             ("truncated_bptt",),
             ("One backward per chunk of k steps: build the chunk's loss, call loss.backward(), read "
              "cell.weight_hh.grad.",
              "Gradients accumulate: set them back to None with cell.zero_grad() after reading them. And "
              "the state you carry into the next chunk must not drag the old graph along.",
              "After each chunk: grads.append(cell.weight_hh.grad.numpy().copy()); cell.zero_grad(); h = "
              "h.detach()"),
             check_rnn.check_truncated_bptt),
    Exercise("lstm_cell", "the LSTM cell, forward and backward", "5. Long-range dependencies", ("LSTMCell",),
             ("Slice the packed pre-activation a (B, 4H) into four (B, H) blocks in the order i, f, g, o; "
              "the forget bias is added to f's block only.",
              "Backward: first the total gradient of c_next, dc = dc_next + dh_next * o * (1 - "
              "tanh(c_next)**2); every gate's gradient comes from it (o's from dh_next * tanh(c_next)). "
              "Pack them back with np.concatenate in the order i, f, g, o.",
              "da = [dc*g*i*(1-i), dc*c_prev*f*(1-f), dc*i*(1-g**2), dh_next*tanh(c_next)*o*(1-o)]; dc_prev "
              "= dc * f; then dx = da @ W_x.T, dh_prev = da @ W_h.T, dW_x = x.T @ da, dW_h = h_prev.T @ da, "
              "db = da.sum(0)."),
             check_nodes.check_lstm_cell),
    Exercise("gru_cell", "the GRU cell, forward and backward", "5. Long-range dependencies", ("GRUCell",),
             ("Keep ax = x @ W_x + b_x and ah = h_prev @ W_h + b_h apart: r multiplies only the hidden part "
              "of n, ah_n.",
              "h_next = (1 - z) * n + z * h_prev, so dn = dh_next * (1 - z), dz = dh_next * (h_prev - n), "
              "and h_prev gets dh_next * z directly besides what flows through the gates. A sigmoid's "
              "derivative is s * (1 - s), not s.",
              "dan = dn*(1-n**2); dar = dan*ah_n*r*(1-r); daz = dz*z*(1-z); the x side is [dar, daz, dan], "
              "the h side [dar, daz, dan*r]."),
             check_nodes.check_gru_cell),
    Exercise("cross_entropy", "cross-entropy over steps and perplexity", "11. Language models and perplexity",
             ("sequence_cross_entropy", "perplexity"),
             ("log softmax = logits - max - log(sum(exp(logits - max))): subtracting the max first keeps "
              "exp from overflowing.",
              "Pick each step's target with integer-array indexing: log_p[t, b, targets] over a grid of (t, "
              "b). The loss is a sum over all T*B tokens, and so is its gradient (no division).",
              "dlogits = softmax(logits) with 1 subtracted at each target; perplexity = exp(loss / (T*B))."),
             check_lm.check_cross_entropy),
    Exercise("sampling", "sampling with temperature, top-k, <unk> and <eos>", "12. Sampling, step by step",
             ("sample_token", "generate"),
             ("Work on a float copy of the logits; -inf removes a token (exp(-inf) = 0).",
              "Temperature divides the logits before the softmax. Top-k: np.sort(logits)[-k] is the k-th "
              "largest.",
              "p = exp(z - z.max()) / sum; rng.choice(len(p), p=p). generate: while len(tokens) < max_len: "
              "draw; stop (without appending) when the token is eos_id."),
             check_lm.check_sampling),
    Exercise("beam_search", "beam search", "14. Sequence to sequence with different lengths",
             ("beam_search",),
             ("Scores are sums of log-probabilities (a product of probabilities, without underflow).",
              "At each step put every extension of every unfinished hypothesis, and every finished "
              "hypothesis as it is, in one list, sort it best first, and keep the first beam_width.",
              "candidates.sort(key=lambda c: -c[1]); beam = candidates[:beam_width]; loop until every "
              "hypothesis ends with eos_id or has max_len tokens."),
             check_lm.check_beam_search),
    Exercise("attention", "causal scaled dot-product attention, forward and backward", "10. Attention",
             ("CausalAttention",),
             ("Forward: scores, then the mask (np.triu(..., 1) marks the future), then a stable softmax "
              "over the last axis, then P @ v. Save P for backward.",
              "Backward goes through the same steps in reverse: out = P @ v gives dv and dP; the softmax's "
              "backward, row by row, is dS = P * (dP - (dP * P).sum(-1, keepdims=True)); the masked scores "
              "get zero gradient by themselves (P is 0 there).",
              "dq = dS @ k / sqrt(d); dk = dS^T @ q / sqrt(d); dv = P^T @ dout, with ^T = transpose(0, 2, "
              "1)."),
             check_nodes.check_attention),
    Exercise("multihead", "multi-head split and merge", "15. Multi-head attention: heads that learn "
                                                        "different things",
             ("split_heads", "merge_heads"),
             ("Head j owns the features j*E/h .. (j+1)*E/h - 1 of every position.",
              "Reshape (B, T, E) -> (B, T, h, E/h), which cuts each position's features into h pieces, then "
              "move the head axis in front of the position axis.",
              "x.reshape(B, T, h, E // h).transpose(0, 2, 1, 3); merge: x.transpose(0, 2, 1, 3).reshape(B, "
              "T, E)."),
             check_shapes.check_multihead),
    Exercise("layer_norm", "layer norm's backward", "16. Skip connections against vanishing gradients in "
                                                    "depth",
             ("LayerNorm",),
             ("Forward: mean and variance of each row (axis 1, keepdims=True), variance dividing by E. Save "
              "xhat and r = 1 / sqrt(var + eps).",
              "gamma and beta were broadcast over the rows, so their gradients sum over axis 0. dx has "
              "three terms: the direct one and one for each of mean and variance, which depend on every x "
              "of the row.",
              "g = dy * gamma; dx = r * (g - g.mean(1, keepdims=True) - xhat * (g * xhat).mean(1, "
              "keepdims=True))."),
             check_nodes.check_layer_norm),
    Exercise("positional_encoding", "the sinusoidal positional encoding", "10. Attention",
             ("positional_encoding",),
             ("Columns come in pairs (sin, cos) of the same frequency; the frequency falls from 1 (columns "
              "0 and 1) to nearly 1/10000.",
              "w_i = 1 / 10000**(2i / d) for i = 0, 1, ...: np.arange(0, d, 2) / d gives the exponents 2i/d.",
              "pe[:, 0::2] = sin(t * w); pe[:, 1::2] = cos(t * w[: d // 2]), with t = np.arange(T)[:, "
              "None]."),
             check_shapes.check_positional_encoding),
)

_BY_NAME = {e.name: e for e in EXERCISES}


def find(name: str) -> Exercise:
    """The exercise called `name` (or numbered `name`), or a KeyError listing the names."""
    if name.isdigit() and 1 <= int(name) <= len(EXERCISES):
        return EXERCISES[int(name) - 1]
    if name not in _BY_NAME:
        raise KeyError(f"no exercise called {name!r}; the exercises are: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]
