#!/usr/bin/python3
"""PyTorch checkpoints into rmgait, checked against PyTorch itself: a GaitGL-shaped model
(bench/peer_torch.py's, OpenGait's parameter names, channels 32/64/128, 74 classes) trained 2
Adam steps on cross entropy in PyTorch (so that weights and batch-norm statistics are not the initial ones), saved
with torch.save as a bare state dict and in OpenGait's layout ({'model', 'optimizer',
'iteration'}); `rmgait embed --checkpoint X.pt --config configs/casiab_gaitgl.yaml` of one
sequence must equal PyTorch's eval-mode embedding to 1e-4 (relative to the largest magnitude);
and the OpenGait-layout .pt that `rmgait convert --opengait` writes back must load with
torch.load(weights_only=True) into the same model, strictly, with an identical embedding.

  /usr/bin/python3 tests/parity/peer_pt.py [RMGAIT=build/tools/rmgait] [OUT=/tmp/rmgait-peer-pt]
Needs Debian python3-torch. Exits 1 when a difference exceeds 1e-4.
"""
import os
import subprocess
import sys

import numpy as np
import torch

# the PyTorch model is bench/peer_torch.py's, the speed peer's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import peer_torch  # noqa: E402


def main():
    rmgait = sys.argv[1] if len(sys.argv) > 1 else "build/tools/rmgait"
    out = sys.argv[2] if len(sys.argv) > 2 else "/tmp/rmgait-peer-pt"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = peer_torch.ReverseMaskModel("gl", [32, 64, 128], 74)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    labels = torch.arange(4).repeat_interleave(2)
    for _ in range(2):
        opt.zero_grad()
        emb, logits = model((torch.rand(8, 20, 64, 44) > 0.5).float())
        loss = peer_torch.cross_entropy(logits, labels)  # (the triplet's sqrt(0) has no gradient)
        loss.backward()
        opt.step()
    model.eval()
    seq = (torch.rand(33, 64, 44) > 0.6).float()
    np.save(f"{out}/seq.npy", seq.numpy())
    with torch.no_grad():
        want = model(seq[None])[0][0].numpy()  # [C, P]
    torch.save(model.state_dict(), f"{out}/gl.pt")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "iteration": 2},
               f"{out}/gl_opengait.pt")
    status = 0
    for name in ("gl.pt", "gl_opengait.pt"):
        subprocess.run([rmgait, "embed", "--checkpoint", f"{out}/{name}", "--config",
                        "configs/casiab_gaitgl.yaml", "--sils", f"{out}/seq.npy", "--out",
                        f"{out}/{name}.emb.npy"], check=True, stdout=subprocess.DEVNULL)
        got = np.load(f"{out}/{name}.emb.npy")
        err = float(np.abs(got - want).max() / np.abs(want).max())
        ok = got.shape == want.shape and err <= 1e-4
        status |= not ok
        print(f"{name}: rmgait embed {got.shape} vs PyTorch {want.shape}: max difference "
              f"{err:.2e} of the largest magnitude ({'ok' if ok else 'FAILED'}, bound 1e-4)")
    # and back: the .pt that `rmgait convert --opengait` writes loads with
    # torch.load(weights_only=True) into the same model (strict), giving the same embedding
    subprocess.run([rmgait, "convert", f"{out}/gl.pt", f"{out}/gl.safetensors"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([rmgait, "convert", f"{out}/gl.safetensors", f"{out}/back.pt", "--opengait"],
                   check=True, stdout=subprocess.DEVNULL)
    back = torch.load(f"{out}/back.pt", weights_only=True)
    again = peer_torch.ReverseMaskModel("gl", [32, 64, 128], 74)
    again.load_state_dict(back["model"], strict=True)
    again.eval()
    with torch.no_grad():
        same = torch.equal(again(seq[None])[0][0], torch.from_numpy(want))
    status |= not same
    print(f"back.pt (rmgait convert --opengait): iteration {back['iteration']}, loaded strictly, "
          f"embedding {'identical' if same else 'DIFFERENT'}")
    sys.exit(status)


if __name__ == "__main__":
    main()
