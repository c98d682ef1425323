#!/usr/bin/env python3
"""How far PyTorch's CPU bf16 autocast puts one training step's gradients from its f32 step.

The PyTorch side of the bf16 gradient tests (tests/test_gait.cpp, tests/test_cuda.cpp): the
peer's models (bench/peer_torch.py) at those tests' shapes (channels 8/16/16, 8 sequences of 12
frames of 64 x 44 uniform noise, 4 classes), the same weights and masks in both steps, and per
parameter the relative L2 distance |g_bf16 - g_f32| / |g_f32|, with cross entropy alone and with
the triplet loss added, as the tests measure rmgait. With the triplet loss the distance is large
(2.3 / 1.9 on 2026-11-26): OpenGait's distance sqrt(relu(|x|^2 + |y|^2 - 2 x.y)) is exactly 0 on
the diagonal in f32 (its gradient masked by relu), while autocast's bf16 matmul leaves rounding
noise there, whose gradient 1 / (2 sqrt(noise)) is arbitrary; rmgait masks the self-distances
(nn/loss.cpp).
    python3 tests/parity/bf16_grad_noise_torch.py [--threads 2]
"""
import argparse
import copy
import math
import os
import sys

import torch

# the PyTorch model is bench/peer_torch.py's, the speed peer's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import peer_torch as P  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for kind in ["inception", "gl"]:
        torch.manual_seed(3)
        f32 = P.ReverseMaskModel(kind, [8, 16, 16], 4)
        x = torch.rand(8, 12, 64, 44)
        for triplet in (False, True):
            f32_model, bf16_model = copy.deepcopy(f32), copy.deepcopy(f32)

            def step(model, half):
                torch.manual_seed(7)  # the same ReverseMask draws in both steps
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
                    emb, logits = model(x)
                    loss = P.cross_entropy(logits.float(), labels)
                    if triplet:
                        loss = loss + P.triplet_loss(emb.float(), labels)
                loss.backward()
                return loss.item()

            what = "cross entropy + triplet" if triplet else "cross entropy"
            lf, lb = step(f32_model, False), step(bf16_model, True)
            print(f"{kind}, {what}: loss f32 {lf:.6f}, bf16 autocast {lb:.6f}")
            squares = []
            for (name, p), (_, q) in zip(f32_model.named_parameters(),
                                         bf16_model.named_parameters()):
                g, w = q.grad.double(), p.grad.double()
                e = ((g - w).norm() / w.norm()).item()
                squares.append(e * e)
                print(f"  {name:40s} relative L2 {e:.4f}")
            print(f"  root mean square {math.sqrt(sum(squares) / len(squares)):.4f}")


if __name__ == "__main__":
    main()
