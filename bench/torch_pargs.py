"""An efficient PyTorch (CPU) PARGS, the reference bench/native.ts compares pargs' backends with.

    python3 bench/torch_pargs.py --config '{"type":"gpt2","layers":12,...}' --threads 2 [--new-tokens 64] ...

Random-weight model of the same architecture pargs builds (GPT-2: LayerNorm, learned positions, GELU-tanh
MLP, biases; Llama: RMSNorm, RoPE, SwiGLU; tied embeddings where the config ties), written with plain
torch ops so the decoding loop can do exactly what pargs' fused loop does per token (src/decode/guided.ts):

  - one k-row candidate step per token: the k candidates of each row are k query positions against that
    row's prefix cache (scores against the prefix by one matmul, plus each candidate against its own new
    key); no cache is tiled or copied per candidate;
  - the reward model is a linear head on the LM's final hidden state (shared backbone = "fused"):
    r = h·w + b on the B·k candidate rows;
  - log-softmax over the vocabulary, top-k (k = 10) by π_ref, scores logπ_topk + β·r, one multinomial
    sample per row; then the chosen candidate's K/V are written into the cache (preallocated buffers, an
    in-place write) and one LM-head row per batch row gives the next step's logits.

Same work per token as pargs: same B, k, prompt length, new tokens (EOS never stops a row), NEW candidate
steps and NEW − 1 appends + LM-head rows after one prefill; plain decoding is prefill + NEW − 1 one-row
steps with top-k 10 sampling. Confounds that stay: torch samples on the tensor (pargs reads the [B, V]
logits back and samples in JS, which is also its users' cost); torch preallocates the KV cache and writes in
place, where tfjs tensors are immutable and pargs' cache append copies (also part of pargs' cost); the
timings include everything either side does, in its own process, with its own thread count.

Prints one JSON object: per workload the median over repetitions after the first (see `timed`).
`--check` verifies the cached paths against a full forward on tiny models (max abs diff ~1e-6).
"""
import argparse
import json
import math
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F


class Model:
    def __init__(self, c, seed):
        g = torch.Generator().manual_seed(seed)
        normal = lambda *shape: torch.randn(*shape, generator=g) * 0.02  # noqa: E731
        d, H, hd, I, V = c["d"], c["heads"], c["headDim"], c["intermediate"], c["vocab"]
        self.gpt2 = c["type"] == "gpt2"
        self.d, self.H, self.hd, self.eps = d, H, hd, c["normEps"]
        self.scale = 1 / math.sqrt(hd)
        self.emb = normal(V, d)  # [V, d]
        self.lm_head = self.emb if c["tie"] else normal(V, d)  # [V, d]; F.linear multiplies by its transpose
        self.pos = normal(c["positions"], d) if self.gpt2 else None  # [P, d]
        ones, zeros = (lambda n: torch.ones(n)), (lambda n: torch.zeros(n))
        bias = (lambda n: normal(n)) if self.gpt2 else (lambda n: None)
        self.layers = [
            dict(ln1w=ones(d), ln1b=zeros(d) if self.gpt2 else None, ln2w=ones(d), ln2b=zeros(d) if self.gpt2 else None,
                 qkv=normal(3 * H * hd, d), qkvb=bias(3 * H * hd), out=normal(d, H * hd), outb=bias(d),
                 up=normal(I if self.gpt2 else 2 * I, d), upb=bias(I), down=normal(d, I), downb=bias(d))
            for _ in range(c["layers"])
        ]
        self.lnfw, self.lnfb = ones(d), zeros(d) if self.gpt2 else None
        if not self.gpt2:  # RoPE tables, rotate-half convention (Hugging Face Llama)
            inv = 1.0 / (c["ropeTheta"] ** (torch.arange(0, hd, 2).float() / hd))
            ang = torch.outer(torch.arange(4096).float(), inv)  # [P, hd/2]
            self.cos, self.sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()  # [P, hd]

    def norm(self, x, w, b):
        if self.gpt2:
            return F.layer_norm(x, (self.d,), w, b, self.eps)
        return F.rms_norm(x, (self.d,), w, self.eps)

    def rope(self, x, pos):  # x [B, H, n, hd], pos [n]
        cos, sin = self.cos[pos], self.sin[pos]  # [n, hd]
        half = self.hd // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def embed(self, ids, pos):  # ids [B, n], pos [n] → [B, n, d]
        x = F.embedding(ids, self.emb)
        return x + self.pos[pos] if self.gpt2 else x

    def qkv(self, l, x, pos):  # x [B, n, d] → q, k, v each [B, H, n, hd]
        B, n, _ = x.shape
        h = self.norm(x, l["ln1w"], l["ln1b"])
        q, k, v = F.linear(h, l["qkv"], l["qkvb"]).view(B, n, 3, self.H, self.hd).permute(2, 0, 3, 1, 4)
        if not self.gpt2:
            q, k = self.rope(q, pos), self.rope(k, pos)
        return q, k, v

    def post(self, l, x, a):  # residual x [B, n, d], attention output a [B, H, n, hd]
        B, n, _ = x.shape
        x = x + F.linear(a.transpose(1, 2).reshape(B, n, self.H * self.hd), l["out"], l["outb"])
        h = self.norm(x, l["ln2w"], l["ln2b"])
        if self.gpt2:
            m = F.linear(F.gelu(F.linear(h, l["up"], l["upb"]), approximate="tanh"), l["down"], l["downb"])
        else:
            gate, up = F.linear(h, l["up"]).chunk(2, -1)
            m = F.linear(F.silu(gate) * up, l["down"])
        return x + m

    def forward(self, ids, cache=None):  # causal forward of ids [B, T] from position 0 → final hidden [B, T, d]
        T = ids.shape[1]
        pos = torch.arange(T)
        x = self.embed(ids, pos)
        for i, l in enumerate(self.layers):
            q, k, v = self.qkv(l, x, pos)
            if cache is not None:
                cache.k[i][:, :, :T], cache.v[i][:, :, :T] = k, v
            x = self.post(l, x, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale))
        if cache is not None:
            cache.t = T
        return self.norm(x, self.lnfw, self.lnfb)

    def step(self, ids, cache):  # one token per row, ids [B, 1] → [B, 1, d]; appended to the cache
        t = cache.t
        pos = torch.tensor([t])
        x = self.embed(ids, pos)
        for i, l in enumerate(self.layers):
            q, k, v = self.qkv(l, x, pos)
            cache.k[i][:, :, t:t + 1], cache.v[i][:, :, t:t + 1] = k, v
            x = self.post(l, x, F.scaled_dot_product_attention(q, cache.k[i][:, :, :t + 1], cache.v[i][:, :, :t + 1], scale=self.scale))
        cache.t = t + 1
        return self.norm(x, self.lnfw, self.lnfb)

    def candidates(self, ids, cache):
        """ids [B, k]: every row's k candidates at position t, each seeing its row's prefix and itself only.
        Returns hidden [B, k, d] and per layer the candidates' (k, v), each [B, H, k, hd]; the cache is unchanged."""
        t, kc = cache.t, ids.shape[1]
        pos = torch.full((kc,), t)
        x = self.embed(ids, pos)
        new = []
        for i, l in enumerate(self.layers):
            q, k, v = self.qkv(l, x, pos)
            K, Vc = cache.k[i][:, :, :t], cache.v[i][:, :, :t]  # [B, H, t, hd]
            prefix = torch.matmul(q, K.transpose(-1, -2)) * self.scale  # [B, H, k, t]
            own = (q * k).sum(-1, keepdim=True) * self.scale  # [B, H, k, 1]
            p = torch.softmax(torch.cat([prefix, own], -1), -1)
            a = torch.matmul(p[..., :t], Vc) + p[..., t:] * v  # [B, H, k, hd]
            new.append((k, v))
            x = self.post(l, x, a)
        return self.norm(x, self.lnfw, self.lnfb), new

    def append(self, cache, new, choice):  # writes candidate choice[b] of every row b at slot t
        rows, t = torch.arange(choice.shape[0]), cache.t
        for i, (k, v) in enumerate(new):
            cache.k[i][:, :, t], cache.v[i][:, :, t] = k[rows, :, choice], v[rows, :, choice]  # [B, H, hd]
        cache.t = t + 1


class Cache:
    def __init__(self, m, B, T, layers):
        self.k = [torch.empty(B, m.H, T, m.hd) for _ in range(layers)]  # [B, H, T, hd]
        self.v = [torch.empty(B, m.H, T, m.hd) for _ in range(layers)]
        self.t = 0


def timed(fn, budget_s=3.0, max_reps=5):
    """The first run is a warm-up when a second one is affordable (< 10 s): then the median of the rest."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > 10:
        return first * 1000
    times, spent = [], 0.0
    while not times or (spent < budget_s and len(times) < max_reps - 1):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return float(np.median(times)) * 1000


def check():
    """The cached paths equal a full forward (tiny GPT-2 and Llama): candidates, append, then a step."""
    for kind in ("gpt2", "llama"):
        c = dict(type=kind, layers=2, d=64, heads=4, headDim=16, intermediate=96, vocab=100, positions=64, tie=True, normEps=1e-5, ropeTheta=10000)
        m = Model(c, 1)
        with torch.inference_mode():
            ids, cand, nxt = torch.randint(0, 99, (2, 10)), torch.randint(0, 99, (2, 3)), torch.randint(0, 99, (2, 1))
            cache = Cache(m, 2, 20, 2)
            m.forward(ids, cache)
            h, new = m.candidates(cand, cache)
            m.append(cache, new, torch.tensor([1, 2]))
            chosen = torch.stack([cand[0, 1], cand[1, 2]])[:, None]  # [2, 1]
            errs = [(h[torch.arange(2), torch.tensor([1, 2])] - m.forward(torch.cat([ids, chosen], 1))[:, -1]).abs().max().item(),
                    (m.step(nxt, cache)[:, 0] - m.forward(torch.cat([ids, chosen, nxt], 1))[:, -1]).abs().max().item()]
        assert max(errs) < 1e-4, (kind, errs)
        print(f"{kind}: candidate step and step after append vs full forward, max abs diff {max(errs):.1e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="check the cached paths against a full forward, then exit")
    ap.add_argument("--config")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workloads", default="prefill,plain1,plain8,pargs1,pargs8,features,headStep,step1,opAdd")
    for name, default in [("prompt", 32), ("new-tokens", 64), ("k", 10), ("prefill-b", 8), ("prefill-t", 128), ("pairs", 32),
                          ("pair-prompt", 64), ("pair-response", 64), ("tokens-per-batch", 4096), ("head-batch", 256),
                          ("head-epochs", 4), ("step-cache", 64), ("seed", 1)]:
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--beta", type=float, default=2.0)
    a = ap.parse_args()
    if a.check:
        return check()
    if not a.config:
        ap.error("--config is required")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = json.loads(a.config)
    m = Model(c, a.seed)
    V, L, d, K, NEW, P = c["vocab"], c["layers"], c["d"], a.k, a.new_tokens, a.prompt
    ids = lambda *shape: torch.randint(0, V - 1, shape)  # noqa: E731  (below the EOS id, as in pargs' bench)
    w, b = torch.randn(d, 1) / math.sqrt(d), torch.zeros(1)  # the linear reward head
    out, work = {}, set(a.workloads.split(","))

    def prefill():
        h = m.forward(ids(a.prefill_b, a.prefill_t), Cache(m, a.prefill_b, a.prefill_t, L))
        F.linear(h[:, -1], m.lm_head)  # [B, V]: the last position's logits, as pargs' prefill

    def plain(B):
        cache = Cache(m, B, P + NEW, L)
        logits = F.linear(m.forward(ids(B, P), cache)[:, -1], m.lm_head)  # [B, V]
        for s in range(NEW):
            vals, top = logits.topk(K)  # [B, k]
            tok = top.gather(1, torch.multinomial(torch.softmax(vals, -1), 1))  # [B, 1]
            if s < NEW - 1:
                logits = F.linear(m.step(tok, cache)[:, 0], m.lm_head)

    def pargs(B):
        cache = Cache(m, B, P + NEW, L)
        logits = F.linear(m.forward(ids(B, P), cache)[:, -1], m.lm_head)  # [B, V]
        rows = torch.arange(B)
        for s in range(NEW):
            logp, top = torch.log_softmax(logits, -1).topk(K)  # [B, k] by π_ref
            h, new = m.candidates(top, cache)  # [B, k, d]
            r = (h @ w + b)[..., 0]  # [B, k]
            choice = torch.multinomial(torch.softmax(logp + a.beta * r, -1), 1)[:, 0]  # [B]
            _tok = top[rows, choice]
            if s < NEW - 1:  # after the last token nothing needs the next logits or the cache
                m.append(cache, new, choice)
                logits = F.linear(h[rows, choice], m.lm_head)  # [B, V]

    # Feature pass: every sequence prompt ⊕ response (chosen and rejected), batches of tokens-per-batch
    # padded tokens, final hidden states at the last token of every prefix prompt ⊕ response[:i], to host.
    seq_len = a.pair_prompt + a.pair_response
    seqs = ids(2 * a.pairs, seq_len)  # [2N, T]
    per_batch = max(1, a.tokens_per_batch // seq_len)
    feats = np.empty((2 * a.pairs, a.pair_response, d), dtype=np.float32)  # [2N, L, d]

    def features():
        for s in range(0, 2 * a.pairs, per_batch):
            h = m.forward(seqs[s:s + per_batch])  # [rows, T, d]
            feats[s:s + per_batch] = h[:, a.pair_prompt:seq_len].numpy()

    def head_steps():
        """AdamW on the linear head, Bradley–Terry prefix loss, clip 1: per step, the steady ms after the first."""
        chosen, rejected = feats[0::2].reshape(-1, d), feats[1::2].reshape(-1, d)  # [N·L, d]
        hw, hb = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
        opt = torch.optim.AdamW([hw, hb], lr=1e-3, weight_decay=0.01)
        n = chosen.shape[0]
        stamps = []
        with torch.enable_grad():
            for _ in range(a.head_epochs):
                order = np.random.permutation(n)
                for s in range(0, n, a.head_batch):
                    i = order[s:s + a.head_batch]
                    c_, r_ = torch.from_numpy(chosen[i]), torch.from_numpy(rejected[i])
                    loss = -F.logsigmoid((c_ @ hw + hb) - (r_ @ hw + hb)).mean()
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_([hw, hb], 1.0)
                    opt.step()
                    loss.item()
                    stamps.append(time.perf_counter())
        return (stamps[-1] - stamps[0]) * 1000 / (len(stamps) - 1)

    with torch.inference_mode():
        if "prefill" in work:
            ms = timed(prefill)
            out["prefill"] = {"ms": ms, "tokensPerSecond": a.prefill_b * a.prefill_t / ms * 1000}
        for B in (1, 8):
            for name, fn in (("plain", plain), ("pargs", pargs)):
                if f"{name}{B}" in work:
                    ms = timed(lambda: fn(B))
                    out[f"{name}{B}"] = {"ms": ms, "tokensPerSecond": B * NEW / ms * 1000}
        if "features" in work or "headStep" in work:
            ms = timed(features)
            out["features"] = {"ms": ms, "tokensPerSecond": 2 * a.pairs * seq_len / ms * 1000}
        if "step1" in work:
            cache = Cache(m, 1, a.step_cache + 1, L)
            m.forward(ids(1, a.step_cache), cache)
            tok, samples = ids(1, 1), []
            for _ in range(31):
                cache.t = a.step_cache  # overwrite the same slot: every sample is the step after step-cache tokens
                t0 = time.perf_counter()
                F.linear(m.step(tok, cache)[:, 0], m.lm_head)
                samples.append(time.perf_counter() - t0)
            out["step1"] = {"ms": float(np.median(samples[1:])) * 1000}
        if "opAdd" in work:
            x, per = torch.ones(4), []
            for _ in range(7):
                t0 = time.perf_counter()
                for _ in range(2000):
                    x + x
                per.append((time.perf_counter() - t0) / 2000)
            out["opAdd"] = {"us": float(np.median(per)) * 1e6}
    if "headStep" in work:
        head_steps()  # warm-up
        out["headStep"] = {"ms": float(np.median([head_steps() for _ in range(3)]))}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"runner": f"torch-{a.threads}", "torch": torch.__version__, "threads": torch.get_num_threads(), "results": out, "peakRssMiB": rss}))


if __name__ == "__main__":
    main()
