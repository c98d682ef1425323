#!/usr/bin/python3
"""The PyTorch peer of `rmgait bench`: the same models (parameter names as rmgait's and
OpenGait's GaitGL: docs/model.md), the same shapes, the same training step (separate
Batch-All triplet + cross entropy, Adam with L2 weight decay) and the same inference, timed the
same way, on the same binary silhouettes (silhouettes() below, as `rmgait bench` makes them).
Never part of the build: bench/compare.sh runs it beside rmgait, under PyTorch 2 from PyPI
(bench/setup-peer.sh) or Debian's python3-torch 1.13.

Prints lines that compare.sh reads:
  train_s <seconds per training step>
  infer_s <seconds per inference of one sequence>
  peak_rss_mib <peak resident memory of the process>
  compile_s <seconds torch.compile took, first calls of training and inference> (--compile)
  family <name> <seconds> (--breakdown: one more step's time per op family)
"""
import argparse
import collections
import math
import os
import re
import resource
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lrelu(x):
    return F.leaky_relu(x, 0.01)


class BasicConv3d(nn.Module):
    def __init__(self, cin, cout, k=3, s=1, p=1):
        super().__init__()
        self.conv3d = nn.Conv3d(cin, cout, k, s, p, bias=False)

    def forward(self, x):
        return self.conv3d(x)


def rm_weights(h, w, variant, device):
    """ReverseMask (Eq. 1-7): M ~ Bernoulli(0.5) over (h, w); w1 = alpha M + beta (1 - M).
    The scaling variant's alpha and beta stay tensors: Python floats drawn per call would make
    torch.compile recompile every step."""
    m = torch.bernoulli(torch.full((h, w), 0.5, device=device))
    if variant == "drop":
        return m, 1.0 - m
    alpha, beta = torch.rand(2, device=device)
    w1 = beta + (alpha - beta) * m
    return w1, 1.0 - w1


def rmfe(conv, x, w1, w2):
    """Eq. 8: lrelu(W X1) + lrelu(W X2), both convs as one call on the pair stacked along N."""
    f1, f2 = lrelu(conv(torch.cat([x * w1, x * w2], 0))).chunk(2, 0)  # chunk: no zero-filled
    return f1 + f2  # slice gradients in backward, as f[:n] + f[n:] had


class PlainBlock(nn.Module):
    def __init__(self, cin, cout, last):
        super().__init__()
        self.conv3d = BasicConv3d(cin, cout)

    def forward(self, x):
        return lrelu(self.conv3d(x))


class GLConv(nn.Module):
    def __init__(self, cin, cout, last, halving=3):
        super().__init__()
        self.halving, self.last = halving, last
        self.global_conv3d = BasicConv3d(cin, cout)
        self.local_conv3d = BasicConv3d(cin, cout)

    def forward(self, x):
        g = self.global_conv3d(x)
        split = x.size(3) // 2 ** self.halving
        loc = torch.cat([self.local_conv3d(s) for s in x.split(split, 3)], 3)
        return lrelu(torch.cat([g, loc], 3)) if self.last else lrelu(g) + lrelu(loc)


class PlainRMBlock(nn.Module):
    def __init__(self, cin, cout, last, variant):
        super().__init__()
        self.variant = variant
        self.rm_conv3d = BasicConv3d(cin, cout)

    def forward(self, x):
        if not self.training:
            return lrelu(self.rm_conv3d(x))
        w1, w2 = rm_weights(x.size(3), x.size(4), self.variant, x.device)
        return rmfe(self.rm_conv3d.conv3d, x, w1, w2)


class InceptionRMBlock(nn.Module):
    def __init__(self, cin, cout, last):
        super().__init__()
        self.last = last
        self.global_conv3d = BasicConv3d(cin, cout)
        self.drop_conv3d = BasicConv3d(cin, cout)
        self.scale_conv3d = BasicConv3d(cin, cout)

    def forward(self, x):
        fg = lrelu(self.global_conv3d(x))
        if self.training:
            h, w = x.size(3), x.size(4)
            fd = rmfe(self.drop_conv3d.conv3d, x, *rm_weights(h, w, "drop", x.device))
            fs = rmfe(self.scale_conv3d.conv3d, x, *rm_weights(h, w, "scale", x.device))
        else:
            fd, fs = lrelu(self.drop_conv3d(x)), lrelu(self.scale_conv3d(x))
        return torch.cat([fg, fd, fs], 3) if self.last else fg + fd + fs


BLOCKS = {  # kind -> (attribute prefix, constructor, height multiplier of the last stage)
    "plain": ("Conv", PlainBlock, 1),
    "gl": ("GLConv", GLConv, 2),
    "rm_drop": ("RMBlock", lambda i, o, last: PlainRMBlock(i, o, last, "drop"), 1),
    "rm_scale": ("RMBlock", lambda i, o, last: PlainRMBlock(i, o, last, "scale"), 1),
    "inception": ("RMBlock", InceptionRMBlock, 3),
}


class ReverseMaskModel(nn.Module):
    def __init__(self, kind, channels, classes, height=64):
        super().__init__()
        c0, c1, c2 = channels
        prefix, block, m = BLOCKS[kind]
        self.conv3d = nn.Sequential(BasicConv3d(1, c0), nn.LeakyReLU(0.01))
        self.LTA = nn.Sequential(BasicConv3d(c0, c0, (3, 1, 1), (3, 1, 1), 0), nn.LeakyReLU(0.01))
        self.stages = [prefix + s for s in ("A0", "A1", "B2")]
        setattr(self, self.stages[0], block(c0, c1, False))
        self.MaxPool0 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        setattr(self, self.stages[1], block(c1, c2, False))
        setattr(self, self.stages[2], block(c2, c2, True))
        parts = m * height // 2
        self.HPP = GeMHPP()
        self.Head0 = SeparateFCs(parts, c2, c2)
        self.Bn = nn.BatchNorm1d(c2)
        self.Head1 = SeparateFCs(parts, c2, classes)
        for name, p in self.named_parameters():
            if p.dim() == 5 or name.endswith("fc_bin"):
                nn.init.xavier_uniform_(p)

    def forward(self, sils):  # [N, T, H, W]
        x = self.LTA(self.conv3d(sils.unsqueeze(1)))
        a0, a1, b2 = (getattr(self, s) for s in self.stages)
        x = b2(a1(self.MaxPool0(a0(x))))
        x = x.max(2)[0]  # temporal max: [N, C, H, W]
        emb = self.Bn(self.Head0(self.HPP(x)))
        return emb, self.Head1(emb)


class GeMHPP(nn.Module):
    def __init__(self, p=6.5, eps=1e-6):
        super().__init__()
        self.p, self.eps = nn.Parameter(torch.full((1,), p)), eps

    def forward(self, x):  # GeM over W, as OpenGait's GeMHPP: [N, C, H, W] -> [N, C, H]
        return F.avg_pool2d(x.clamp(min=self.eps).pow(self.p), (1, x.size(-1))).pow(
            1.0 / self.p).squeeze(-1)


class SeparateFCs(nn.Module):
    def __init__(self, parts, cin, cout):
        super().__init__()
        self.fc_bin = nn.Parameter(torch.zeros(parts, cin, cout))

    def forward(self, x):  # [N, C, P] -> [N, C', P]
        return x.permute(2, 0, 1).matmul(self.fc_bin).permute(1, 2, 0)


def triplet_loss(emb, labels, margin=0.2):
    """OpenGait's TripletLoss per part (Batch-All, BA+ mean over non-zero terms)."""
    x = emb.permute(2, 0, 1)  # [P, N, C]
    x2 = (x * x).sum(2, keepdim=True)
    # relu, as OpenGait: its backward masks by selection, so the self-distances' sqrt'(0) = inf
    # gives 0, not the NaN that clamp(min=0)'s multiplying mask gave (every weight NaN after the
    # first step)
    d = F.relu(x2 + x2.transpose(1, 2) - 2 * x.matmul(x.transpose(1, 2))).sqrt()
    same = labels[:, None] == labels[None, :]
    n, k = len(labels), int(same[0].sum())
    dap = d[:, same].view(d.size(0), n, k, 1)
    dan = d[:, ~same].view(d.size(0), n, 1, n - k)
    terms = F.relu(dap - dan + margin).view(d.size(0), -1)
    nonzero = (terms > 0).sum(1).float()
    return (terms.sum(1) / (nonzero + 1e-9)).mean()


def cross_entropy(logits, labels):  # logits [N, classes, P]
    n, _, p = logits.shape
    return F.cross_entropy(logits, labels[:, None].expand(n, p))


def silhouettes(n, frames, h=64, w=44):
    """Binary silhouettes as real data are (0 background, 1 body): per sequence i and frame t an
    upright ellipse whose centre sways, the same pixels as `rmgait bench`'s (pipeline/bench.cpp)."""
    x = torch.zeros(n, frames, h, w)
    hh = torch.arange(h, dtype=torch.float64)[:, None]
    ww = torch.arange(w, dtype=torch.float64)[None, :]
    for i in range(n):
        for t in range(frames):
            cx = w / 2 + 4 * math.sin(0.4 * t + i)
            x[i, t] = (((hh - 34) / 26) ** 2 + ((ww - cx) / 9) ** 2 <= 1).float()
    return x


# aten operators -> the op families of `rmgait bench --breakdown` (first match wins)
FAMILIES = [
    ("conv backward", r"convolution_backward|conv3d_backward|conv_depthwise3d_backward"),
    ("conv forward", r"convolution|conv3d"),
    ("matmul", r"::(mm|bmm|addmm|matmul|baddbmm)$"),
    ("pooling", r"max_pool"),
    ("batch norm", r"batch_norm"),
    ("random", r"bernoulli|uniform|rand"),
    ("reductions", r"::(sum|mean|max|amax|min|avg_pool2d|avg_pool2d_backward|softmax|"
                   r"_log_softmax|_log_softmax_backward_data|nll_loss\w*|cross_entropy\w*|"
                   r"max_backward)$"),
    ("copies", r"copy|cat|clone|contiguous|fill|zero|index|masked|select|zeros|empty|_to|"
               r"stack|narrow|expand|split|chunk|squeeze|view|permute|transpose|reshape|slice|"
               r"as_strided|unbind|detach|::t$|lift"),
    ("elementwise", r"."),
]


def family_of(op):
    return next(f for f, pat in FAMILIES if re.search(pat, op))


def oneDNN_conv_split(step):
    """Seconds of oneDNN's backward-data and backward-weights convolutions in one call of
    step(), from oneDNN's verbose log (torch.backends.mkldnn.verbose), or None where PyTorch
    has no such switch or ran no oneDNN convolution."""
    verbose = getattr(torch.backends.mkldnn, "verbose", None)
    if verbose is None:
        return None
    with tempfile.TemporaryFile("w+") as log:
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            with verbose(torch.backends.mkldnn.VERBOSE_ON):
                step()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        ms = collections.Counter()
        for line in log:
            f = line.strip().split(",")
            if "exec" in f and "convolution" in f:
                prop = next((k for k in ("backward_data", "backward_weights") if k in f), None)
                if prop:
                    ms[prop] += float(f[-1])
    return ms if ms else None


def breakdown(step):
    """One more step under torch.profiler: seconds per op family (operators' self CPU time, conv
    backward split into data and weights by oneDNN's log), the rest 'outside kernels'."""
    from torch.profiler import ProfilerActivity, profile
    split = oneDNN_conv_split(step)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        step()
        total = time.perf_counter() - t0
    fam = collections.Counter()
    for e in prof.events():
        if not e.name.startswith("aten::"):
            continue
        up, in_optimizer = e.cpu_parent, False  # Adam's operators count as the optimizer
        while up is not None and not in_optimizer:
            in_optimizer, up = up.name.startswith("Optimizer.step"), up.cpu_parent
        fam["optimizer" if in_optimizer else family_of(e.name)] += e.self_cpu_time_total / 1e6
    back = fam.pop("conv backward", 0.0)
    if split:
        d, w = split["backward_data"], split["backward_weights"]
        fam["conv backward-data"] += back * d / (d + w)
        fam["conv backward-weights"] += back * w / (d + w)
    elif back:
        fam["conv backward (data + weights)"] += back
    out = sorted(fam.items(), key=lambda kv: -kv[1])
    return out + [("outside kernels", max(0.0, total - sum(fam.values())))]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ddp_train_step_time(rank, a, result):
    """One rank of PyTorch DDP on gloo (OpenGait's set-up: the embeddings all-gathered for the
    triplet loss with gradients, the cross entropy on the local rows; PyTorch's SyncBatchNorm
    works on GPUs only, so the BNNeck normalises each rank's rows, a negligible share of the
    step); rank 0 puts its mean step time in `result`."""
    import torch.distributed as dist
    import torch.distributed.nn.functional as dist_fn
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517")
    dist.init_process_group("gloo", rank=rank, world_size=a.ranks)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    p, k = (int(v) for v in a.sampler.split(","))
    n = p * k // a.ranks
    model = ReverseMaskModel(a.model, [int(c) for c in a.channels.split(",")], a.classes)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-4, weight_decay=5e-4)
    x = silhouettes(p * k, a.frames)[rank * n:(rank + 1) * n].contiguous()
    labels = torch.arange(p).repeat_interleave(k) % a.classes
    local = labels[rank * n:(rank + 1) * n]
    train_s = 0.0
    for i in range(a.iters + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        emb, logits = ddp(x)
        gathered = torch.cat(dist_fn.all_gather(emb), 0)
        # DDP averages gradients: the global triplet loss counts once per rank, the cross
        # entropy is the local mean (OpenGait scales the gathered loss by the world size)
        loss = triplet_loss(gathered, labels) + cross_entropy(logits, local)
        loss.backward()
        opt.step()
        if i:
            train_s += time.perf_counter() - t0
        if not torch.isfinite(loss):  # a step on NaN weights times other work than a real one
            raise SystemExit(f"peer_torch: rank {rank}: step {i}'s loss is not finite")
    if rank == 0:
        result.put(train_s / a.iters)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="inception", choices=sorted(BLOCKS))
    ap.add_argument("--channels", default="32,64,128")
    ap.add_argument("--sampler", default="2,2", help="P,K: the batch is P*K sequences")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--infer-frames", type=int, default=90)
    ap.add_argument("--classes", type=int, default=74)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="cuda: the model and batch on the GPU, TF32 as --tf32 says")
    ap.add_argument("--tf32", type=int, default=0, help="1: allow TF32 in cuDNN and cuBLAS")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the model (inductor, default mode); the first calls, "
                         "which compile, are left out of the times and reported as compile_s")
    ap.add_argument("--flush-denormal", type=int, default=0,
                    help="torch.set_flush_denormal: 0, or 1, which flushes GeM's clamp eps^p "
                         "(1e-6^6.5, a denormal) to 0 on background rows, whose pow(1/p) "
                         "backward is then inf: every loss after the first step is NaN")
    ap.add_argument("--breakdown", action="store_true",
                    help="also print one training step's time per op family")
    ap.add_argument("--profile", action="store_true",
                    help="also print the heaviest kernels of one training step (torch.profiler)")
    ap.add_argument("--gate", default="",
                    help="IN,OUT: file descriptors; each step and inference run waits for a "
                         "byte on IN and reports its seconds on OUT (bench/interleave.py)")
    ap.add_argument("--ranks", type=int, default=1,
                    help="> 1: time a DDP training step on that many processes (gloo), "
                         "--threads each, and print only train_s")
    a = ap.parse_args()
    gate_in, gate_out = (int(v) for v in a.gate.split(",")) if a.gate else (-1, -1)

    def gate_wait():  # as rmgait bench --gate: run the next unit of work when told
        if gate_in >= 0 and len(os.read(gate_in, 1)) != 1:
            raise SystemExit("peer_torch: the gate closed before the next unit of work")

    def gate_done(kind, seconds):
        if gate_out >= 0:
            os.write(gate_out, f"{kind} {seconds:.6f}\n".encode())

    if a.ranks > 1:
        import torch.multiprocessing as mp
        q = mp.get_context("spawn").SimpleQueue()
        mp.spawn(ddp_train_step_time, args=(a, q), nprocs=a.ranks)
        print(f"model {a.model}, channels ({a.channels}), torch {torch.__version__}, "
              f"DDP over {a.ranks} ranks x {a.threads} threads (gloo), f32")
        print(f"train_s {q.get():.4f}")
        return
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(bool(a.flush_denormal))
    torch.manual_seed(1)
    dev = torch.device(a.device)
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = bool(a.tf32)
        torch.backends.cudnn.allow_tf32 = bool(a.tf32)

    def sync():  # GPU work is asynchronous: a step's time ends when the device is done
        if a.device == "cuda":
            torch.cuda.synchronize()

    p, k = (int(v) for v in a.sampler.split(","))
    model = ReverseMaskModel(a.model, [int(c) for c in a.channels.split(",")], a.classes).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    net = torch.compile(model) if a.compile else model  # the losses stay eager (data-dependent
    x = silhouettes(p * k, a.frames).to(dev)  # shapes of the Batch-All triplet selection)
    labels = (torch.arange(p).repeat_interleave(k) % a.classes).to(dev)
    autocast = torch.autocast(a.device, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    train_s = 0.0
    model.train()

    losses = []

    def step():
        opt.zero_grad()
        with autocast:
            emb, logits = net(x)
            loss = triplet_loss(emb.float(), labels) + cross_entropy(logits.float(), labels)
        loss.backward()
        opt.step()
        losses.append(loss.detach())  # checked after the timing (no host sync inside it)
        sync()

    warm = 2 if a.compile else 1  # compiled: forward and backward graphs, then a settled step
    compile_s = 0.0
    for i in range(a.iters + warm):  # the warm-up steps are not counted
        sync()
        gate_wait()
        t0 = time.perf_counter()
        step()
        dt = time.perf_counter() - t0
        gate_done("train" if i >= warm else "warm", dt)
        if i >= warm:
            train_s += dt
        else:
            compile_s += dt
    compile_s -= warm * train_s / a.iters  # what the warm-up took beyond steady steps
    families = breakdown(step) if a.breakdown else []
    if a.profile:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if a.device == "cuda" else [])
        with profile(activities=acts) as prof:
            step()
        keys = ["self_device_time_total", "self_cuda_time_total"] if a.device == "cuda" else []
        for key in keys + ["self_cpu_time_total"]:  # the name changed across PyTorch versions
            try:
                print(prof.key_averages().table(sort_by=key, row_limit=30,
                                                max_name_column_width=90))
                break
            except Exception:
                continue
    # a step on NaN weights times other work than a real one: refuse to report it
    if not all(bool(torch.isfinite(v)) for v in losses):
        raise SystemExit(f"peer_torch: a training step's loss is not finite: "
                         f"{[float(v) for v in losses]}")
    model.eval()
    seq = silhouettes(1, a.infer_frames).to(dev)
    infer_s = infer_warm = 0.0
    with torch.no_grad(), autocast:
        for i in range(a.iters + warm):
            sync()
            gate_wait()
            t0 = time.perf_counter()
            net(seq)
            sync()
            dt = time.perf_counter() - t0
            gate_done("infer" if i >= warm else "infer-warm", dt)
            if i >= warm:
                infer_s += dt
            else:
                infer_warm += dt
    compile_s += infer_warm - warm * infer_s / a.iters
    print(f"model {a.model}, channels ({a.channels}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {a.precision}"
          + (", torch.compile" if a.compile else "") + f", flush_denormal {a.flush_denormal}")
    print(f"train_s {train_s / a.iters:.4f}")
    print(f"infer_s {infer_s / a.iters:.4f}")
    print(f"peak_rss_mib {peak_rss_mib():.1f}")
    if a.compile:
        # an estimate: on a machine whose speed drifts, steady steps can outlast the warm-up
        print(f"compile_s {max(0.0, compile_s):.1f}")
    for name, sec in families:
        print(f"family {name.replace(' ', '_')} {sec:.4f}")
    if a.device == "cuda":
        print(f"peak_gpu_mib {torch.cuda.max_memory_allocated() / 2**20:.1f}")


if __name__ == "__main__":
    main()
