#!/usr/bin/python3
"""Embedding parity with PyTorch: loads an rmgait checkpoint (safetensors, read here with NumPy)
into the peer model of bench/peer_torch.py (same parameter names), embeds the same sequence in
eval mode and compares with `rmgait embed`'s output.

  peer_check.py CKPT.safetensors SEQ.npy RMGAIT_EMB.npy
Prints the largest difference relative to the largest embedding magnitude; exits 1 above 1e-5.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import yaml

# the PyTorch model is bench/peer_torch.py's, the speed peer's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import peer_torch  # noqa: E402

DTYPES = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        tensors[name] = np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors, meta


def main():
    ckpt, seq_path, emb_path = sys.argv[1:4]
    tensors, meta = read_safetensors(ckpt)
    model_cfg = yaml.safe_load(meta["config"])["model_cfg"]
    kind, channels = model_cfg["block"], [int(c) for c in model_cfg["channels"]]
    classes = int(meta["num_classes"])
    model = peer_torch.ReverseMaskModel(kind, channels, classes, int(meta["height"]))
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()
             if not k.startswith("optimizer/")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing, f"parameters missing from {ckpt}: {missing}"
    model.eval()
    seq = torch.from_numpy(np.load(seq_path)).float()[None]  # [1, T, 64, 44]
    with torch.no_grad():
        emb, _ = model(seq)
    ours = torch.from_numpy(np.load(emb_path))
    rel = float((emb[0] - ours).abs().max() / emb.abs().max())
    print(f"{kind}: embedding {tuple(ours.shape)}, max |rmgait - torch| / max |torch| = {rel:.2e}")
    sys.exit(0 if rel < 1e-5 else 1)


if __name__ == "__main__":
    main()
