"""Exercise 5: truncated BPTT, the training loop's gradient with `detach` (lesson 6).

Run `cell` (an nn.RNNCell) over the sequence in chunks of k steps: for each chunk, loss = the sum over
its steps t of (h[t] * readout[t]).sum(); call loss.backward(), keep a copy of cell.weight_hh.grad
(as a NumPy array), then set the gradients back to None (cell.zero_grad()) and carry h into the next
chunk with h.detach(), so that the next backward stops at the chunk's first step. The last chunk may be
shorter than k.
"""

from tinygrad_seq import Tensor


def truncated_bptt(cell, xs, h0, k, readout):
    """xs (T, B, D), h0 (B, H), readout (T, B, H) as Tensors; k >= 1 -> [weight_hh's gradient per chunk]."""
    grads = []
    h = h0
    for start in range(0, xs.shape[0], k):
        loss = Tensor(0.0)
        for t in range(start, min(start + k, xs.shape[0])):
            h = cell(xs[t], h)
            loss = loss + (h * readout[t]).sum()
        loss.backward()
        grads.append(cell.weight_hh.grad.numpy().copy())
        cell.zero_grad()
        h = h.detach()
    return grads
