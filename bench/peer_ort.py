"""ONNX Runtime's side of bench/onnx_runtime.sh: inference on one sequence of random binary
silhouettes (the operators' cost does not depend on the pixels), timed after one warm-up run,
mean of --iters runs, on --threads threads.

usage: peer_ort.py MODEL.onnx [--threads 2] [--frames 90] [--iters 10]
prints: "ort <version> inference <seconds> s, peak RSS <MiB> MiB"
"""
import argparse
import resource
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
    h, w = sess.get_inputs()[0].shape[2:]
    sils = (np.random.default_rng(1).random((1, a.frames, h, w)) < 0.4).astype(np.float32)
    (out,) = sess.run(["embedding"], {"sils": sils})  # warm-up
    assert np.isfinite(out).all(), "ONNX Runtime's embedding is not finite"
    t0 = time.perf_counter()
    for _ in range(a.iters):
        sess.run(["embedding"], {"sils": sils})
    s = (time.perf_counter() - t0) / a.iters
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ort {ort.__version__} inference {s:.4f} s, peak RSS {rss:.1f} MiB")


if __name__ == "__main__":
    main()
