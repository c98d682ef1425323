#!/usr/bin/env python3
"""How far PyTorch's CPU bf16 autocast puts one training step's gradients from its f32 step.

The PyTorch side of test_cuda's bf16 training-step bound (tests/test_cuda.cpp): the peer's models
(bench/peer_torch.py) at that test's shapes (channels 8/16/16, 8 sequences of 12 frames of
64 x 44 uniform noise, 4 classes), the same weights and masks in both steps, and per parameter the
relative L2 distance |g_bf16 - g_f32| / |g_f32|. Cross entropy only: the peer's triplet loss takes
sqrt(0) on the diagonal of its distance matrix, which gives NaN gradients in f32 at these shapes.
GeM runs in f32 (in bf16 its pow(6.5) underflows and its backward gives NaN).
    python3 bench/bf16_grad_noise_torch.py [--threads 2]
"""
import argparse
import copy
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_torch as P  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gem_forward = P.GeMHPP.forward
    P.GeMHPP.forward = lambda self, x: gem_forward(self, x.float())
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for kind in ["inception", "gl"]:
        torch.manual_seed(3)
        f32 = P.ReverseMaskModel(kind, [8, 16, 16], 4)
        bf16 = copy.deepcopy(f32)
        x = torch.rand(8, 12, 64, 44)

        def step(model, half):
            torch.manual_seed(7)  # the same ReverseMask draws in both steps
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
                _, logits = model(x)
                loss = P.cross_entropy(logits.float(), labels)
            loss.backward()
            return loss.item()

        print(f"{kind}: loss f32 {step(f32, False):.6f}, bf16 autocast {step(bf16, True):.6f}")
        squares = []
        for (name, p), (_, q) in zip(f32.named_parameters(), bf16.named_parameters()):
            g, w = q.grad.double(), p.grad.double()
            e = ((g - w).norm() / w.norm()).item()
            squares.append(e * e)
            print(f"  {name:40s} relative L2 {e:.4f}")
        print(f"  root mean square {math.sqrt(sum(squares) / len(squares)):.4f}")


if __name__ == "__main__":
    main()
