"""An exported ONNX model against `rmgait embed`, in ONNX Runtime (tests/onnx_export.sh).

usage: onnx_check.py MODEL.onnx CHECKPOINT ITERATION SEQ.npy EMB.npy [SEQ.npy EMB.npy ...]
Each SEQ.npy is f32 [T, H, W] and EMB.npy its `rmgait embed` output [C, P]. Checks:
onnx.checker.check_model(full_check=True); the metadata (version, config, iteration); every
sequence alone, and the sequences of any length given 3 or more times as one batch, equal to
rmgait's embeddings within 1e-4 of the largest magnitude.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, iteration, pairs = sys.argv[1], sys.argv[3], sys.argv[4:]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("rmgait_version", "config", "iteration", "model_fingerprint"):
        assert key in meta, f"{model_path}: metadata has no {key!r} (has {sorted(meta)})"
    assert meta["iteration"] == iteration, f"iteration {meta['iteration']!r}, expected {iteration}"
    assert "model_cfg.block" in meta["config"], "the config metadata lacks model_cfg.block"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    cases = [(p, np.load(p).astype(np.float32), np.load(e)) for p, e in zip(pairs[0::2], pairs[1::2])]
    worst = 0.0

    def check(what, seqs, wants):
        nonlocal worst
        (got,) = sess.run(["embedding"], {"sils": np.stack(seqs)})
        assert got.shape == (len(seqs),) + wants[0].shape, f"{what}: shape {got.shape}"
        for g, w in zip(got, wants):
            err = float(np.abs(g - w).max() / np.abs(w).max())
            worst = max(worst, err)
            assert err <= 1e-4, f"{what}: ONNX Runtime differs from rmgait by {err:.2e} (> 1e-4)"
        print(f"{what}: [{len(seqs)}, {seqs[0].shape[0]}, ...] -> {got.shape}: ok")

    for path, seq, want in cases:
        check(path, [seq], [want])
    lengths = [seq.shape[0] for _, seq, _ in cases]
    batched = [t for t in set(lengths) if lengths.count(t) >= 3]
    assert batched, "no length is given 3 times: no batch to check"
    for t in batched:
        group = [(s, w) for _, s, w in cases if s.shape[0] == t]
        check(f"batch of {len(group)} x {t} frames", [s for s, _ in group], [w for _, w in group])
    print(f"worst relative error {worst:.2e}")


if __name__ == "__main__":
    main()
