#!/usr/bin/env python3
"""Float64 reference forward pass for tiny MoE checkpoints, written from the math of the Hugging
Face transformers modeling files (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek V1/V2/V3,
gpt-oss, GLM-4.5) and of hpcai-tech's modeling_grok1.py (Grok-1). gpt-oss's MXFP4 experts are
decoded here from their blocks and scales (E2M1 nibbles, low nibble first; E8M0 exponents).
Pure standard library (no torch needed), so it runs anywhere; only for tiny models.

  reference_forward.py MODEL_DIR 1,2,3 > reference.json
  reference_forward.py MODEL_DIR --moe-inputs 1,2,3 4,5 > moe_inputs.json

It is checked against the HF fixtures in tests/data/hf/ (whose logits come from transformers
itself) before its outputs are used for the families that have no HF fixture.
"""
import json
import math
import os
import struct
import sys


E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
MXFP4_DECODED = set()  # weights decoded from _blocks/_scales (stored [out][in], not transposed)


def mxfp4(blocks, scales):
    """[..., R, C/32, 16] packed E2M1 pairs and [..., R, C/32] E8M0 exponents -> [..., R, C]."""
    (codes, bshape), (exps, _) = blocks, scales
    vals = []
    for g, e in enumerate(exps):  # one group of 32 values per scale
        scale = 2.0 ** (e - 127)
        for byte in codes[g * 16:(g + 1) * 16]:
            for nib in (byte & 15, byte >> 4):
                v = E2M1[nib & 7] * scale
                vals.append(-v if nib & 8 else v)
    return vals, bshape[:-2] + [bshape[-2] * 32]


def load_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        raw = data[8 + n + lo:8 + n + hi]
        if e["dtype"] == "F32":
            vals = list(struct.unpack("<%df" % (len(raw) // 4), raw))
        elif e["dtype"] == "BF16":
            vals = [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
        elif e["dtype"] == "U8":
            vals = list(raw)
        else:
            raise SystemExit("%s: %s: dtype %s not supported" % (path, name, e["dtype"]))
        out[name] = (vals, e["shape"])
    for name in [k for k in out if k.endswith("_blocks")]:
        w = name[:-len("_blocks")]
        out[w] = mxfp4(out.pop(name), out.pop(w + "_scales"))
        MXFP4_DECODED.add(w)
    return out


def matrix(t):
    vals, shape = t
    cols = 1
    for s in shape[1:]:
        cols *= s
    return [vals[r * cols:(r + 1) * cols] for r in range(shape[0])]


def linear(x, w, b=None):  # x: [T][in], w: [out][in]
    out = [[sum(a * c for a, c in zip(row, wr)) for wr in w] for row in x]
    if b is not None:
        out = [[v + bb for v, bb in zip(row, b)] for row in out]
    return out


def rms(x, w, eps):
    out = []
    for row in x:
        s = 1.0 / math.sqrt(sum(v * v for v in row) / len(row) + eps)
        out.append([v * s * ww for v, ww in zip(row, w)])
    return out


def silu(v):
    return v / (1.0 + math.exp(-v))


def gelu(v):  # exact (erf), torch.nn.GELU()
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


def mlp(x, act, up, down, fn=silu):
    a = linear(x, act)
    u = linear(x, up)
    return linear([[fn(p) * q for p, q in zip(ra, ru)] for ra, ru in zip(a, u)], down)


def rope(vec, pos, inv, interleaved, factor=1.0):
    d = 2 * len(inv)
    if len(vec) > d:  # partial rotary (GLM-4.5): the first d dimensions rotate
        return rope(vec[:d], pos, inv, interleaved, factor) + list(vec[d:])
    h = d // 2
    out = list(vec)
    for i in range(h):
        c = math.cos(pos * inv[i]) * factor
        s = math.sin(pos * inv[i]) * factor
        if interleaved:
            a, b = vec[2 * i], vec[2 * i + 1]
            out[2 * i], out[2 * i + 1] = a * c - b * s, a * s + b * c
        else:
            a, b = vec[i], vec[i + h]
            out[i], out[i + h] = a * c - b * s, b * c + a * s
    return out


def attention(q, k, v, scale, cap=0.0, window=0, sinks=None):
    """q: [T][H][d], k: [T][H][d], v: [T][H][dv]. Causal; with a window, key j is seen from
    query t when t - j < window; gpt-oss's sink logit per head joins the softmax denominator."""
    T, H = len(q), len(q[0])
    out = [[] for _ in range(T)]
    for t in range(T):
        keys = [j for j in range(t + 1) if not window or t - j < window]
        for h in range(H):
            sc = [scale * sum(a * b for a, b in zip(q[t][h], k[j][h])) for j in keys]
            if cap:  # Grok-1: cap * tanh(s / cap) before the softmax
                sc = [cap * math.tanh(s / cap) for s in sc]
            m = max(sc + ([sinks[h]] if sinks else []))
            e = [math.exp(s - m) for s in sc]
            z = sum(e) + (math.exp(sinks[h] - m) if sinks else 0.0)
            out[t] += [sum(e[n] / z * v[j][h][i] for n, j in enumerate(keys)) for i in range(len(v[0][h]))]
    return out


def topk(values, k):
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]


def yarn_mscale(scale, m):
    return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0


class Model:
    def __init__(self, d):
        self.cfg = json.load(open(os.path.join(d, "config.json")))
        self.t = load_safetensors(os.path.join(d, "model.safetensors"))
        c = self.cfg
        self.type = c["model_type"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads") or self.heads
        self.mla = c.get("kv_lora_rank") is not None
        rp = c.get("rope_parameters") or c.get("rope_scaling") or {}
        self.theta = rp.get("rope_theta", c.get("rope_theta", 10000.0))
        self.rope_type = rp.get("rope_type", rp.get("type", "default"))
        if self.mla:
            self.rope_dim = c["qk_rope_head_dim"]
            self.scale = (c["qk_nope_head_dim"] + c["qk_rope_head_dim"]) ** -0.5
        else:
            self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
            # GLM-4.5 rotates int(head_dim * partial_rotary_factor) dimensions (HF default 0.5).
            prf = rp.get("partial_rotary_factor", c.get("partial_rotary_factor", 0.5 if self.type == "glm4_moe" else 1.0))
            self.rope_dim = int(self.head_dim * prf)
            self.scale = self.head_dim ** -0.5
        d = self.rope_dim
        inv = [1.0 / self.theta ** (2 * i / d) for i in range(d // 2)]
        self.rope_factor = 1.0
        if self.rope_type == "yarn":
            f = rp["factor"]
            orig = rp.get("original_max_position_embeddings", c.get("max_position_embeddings"))
            bf, bs = rp.get("beta_fast", 32), rp.get("beta_slow", 1)
            cd = lambda r: d * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(self.theta))
            lo, hi = cd(bf), cd(bs)
            if rp.get("truncate", True):  # gpt-oss: truncate false keeps the fractional range
                lo, hi = math.floor(lo), math.ceil(hi)
            lo, hi = max(lo, 0), min(hi, d - 1)
            if lo == hi:
                hi += 0.001
            new = []
            for i, x in enumerate(inv):
                extra = 1 - min(max((i - lo) / (hi - lo), 0.0), 1.0)
                new.append(x / f * (1 - extra) + x * extra)
            inv = new
            ms, msa = rp.get("mscale", 0), rp.get("mscale_all_dim", 0)
            self.rope_factor = yarn_mscale(f, ms) / yarn_mscale(f, msa) if ms and msa else yarn_mscale(f, 1)
            if msa:
                self.scale *= yarn_mscale(f, msa) ** 2
        elif self.rope_type != "default":
            raise SystemExit("rope type %s not in the reference" % self.rope_type)
        self.inv = inv
        # gpt-oss: per-layer attention type (sliding on even layers by default), sinks, experts
        # with clamped SwiGLU and biases.
        self.gpt_oss = self.type == "gpt_oss"
        n_layers = c["num_hidden_layers"]
        types = c.get("layer_types") or (
            ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n_layers)]
            if self.gpt_oss else ["full_attention"] * n_layers)
        sw = c.get("sliding_window") or (128 if self.gpt_oss else 0)
        if not c.get("layer_types") and not self.gpt_oss and c.get("use_sliding_window") is None:
            types = ["sliding_attention" if sw else "full_attention"] * n_layers
        self.windows = [sw if t == "sliding_attention" else 0 for t in types]
        self.alpha = c.get("swiglu_alpha", 1.702)
        self.limit = c.get("swiglu_limit", 7.0)
        # Grok-1 (hpcai-tech modeling_grok1.py): multipliers, soft cap, sandwich norms, GELU.
        self.grok = self.type in ("grok-1", "grok1")
        self.cap = 0.0
        self.emb_mult = self.out_mult = 1.0
        if self.grok:
            self.scale = c.get("attn_output_multiplier", 1.0)
            self.cap = c.get("max_attn_value", 1.0)
            self.emb_mult = c.get("embedding_multiplier_scale", 1.0)
            self.out_mult = c.get("output_multiplier_scale", 1.0)

    def w(self, name):
        return self.t[name][0]

    def m(self, name):
        return matrix(self.t[name])

    def has(self, name):
        return name in self.t

    def attn(self, l, x):
        p = "model.layers.%d.%s." % (l, "attn" if self.grok else "self_attn")
        T = len(x)
        if self.mla:
            c = self.cfg
            nope, rd, vd, r = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
            if c.get("q_lora_rank"):
                q = linear(rms(linear(x, self.m(p + "q_a_proj.weight")), self.w(p + "q_a_layernorm.weight"), 1e-6),
                           self.m(p + "q_b_proj.weight"))
            else:
                q = linear(x, self.m(p + "q_proj.weight"))
            ckv = linear(x, self.m(p + "kv_a_proj_with_mqa.weight"))
            kv = linear(rms([row[:r] for row in ckv], self.w(p + "kv_a_layernorm.weight"), 1e-6),
                        self.m(p + "kv_b_proj.weight"))
            Q, K, V = [], [], []
            for t in range(T):
                kpe = rope(ckv[t][r:r + rd], t, self.inv, True, self.rope_factor)
                qs, ks, vs = [], [], []
                for h in range(self.heads):
                    qh = q[t][h * (nope + rd):(h + 1) * (nope + rd)]
                    kh = kv[t][h * (nope + vd):(h + 1) * (nope + vd)]
                    qs.append(qh[:nope] + rope(qh[nope:], t, self.inv, True, self.rope_factor))
                    ks.append(kh[:nope] + kpe)
                    vs.append(kh[nope:])
                Q.append(qs)
                K.append(ks)
                V.append(vs)
        else:
            b = lambda n: self.w(p + n + ".bias") if self.has(p + n + ".bias") else None
            q = linear(x, self.m(p + "q_proj.weight"), b("q_proj"))
            k = linear(x, self.m(p + "k_proj.weight"), b("k_proj"))
            v = linear(x, self.m(p + "v_proj.weight"), b("v_proj"))
            hd = self.head_dim
            per_head = False
            if self.type == "glm4_moe":
                per_head = bool(self.cfg.get("use_qk_norm"))
            elif self.has(p + "q_norm.weight"):
                if len(self.w(p + "q_norm.weight")) == hd:
                    per_head = True
                else:  # OLMoE: over the whole projection, then clip_qkv
                    q = rms(q, self.w(p + "q_norm.weight"), self.eps)
                    k = rms(k, self.w(p + "k_norm.weight"), self.eps)
            clip = self.cfg.get("clip_qkv")
            if clip:
                q, k, v = [[[min(max(a, -clip), clip) for a in row] for row in z] for z in (q, k, v)]
            rep = self.heads // self.kv_heads
            Q, K, V = [], [], []
            for t in range(T):
                qs = [q[t][h * hd:(h + 1) * hd] for h in range(self.heads)]
                ks = [k[t][h * hd:(h + 1) * hd] for h in range(self.kv_heads)]
                if per_head:
                    qs = rms(qs, self.w(p + "q_norm.weight"), self.eps)
                    ks = rms(ks, self.w(p + "k_norm.weight"), self.eps)
                # cos and sin carry YaRN's attention factor (HF's attention_scaling).
                Q.append([rope(a, t, self.inv, False, self.rope_factor) for a in qs])
                kr = [rope(a, t, self.inv, False, self.rope_factor) for a in ks]
                K.append([kr[h // rep] for h in range(self.heads)])
                V.append([v[t][(h // rep) * hd:(h // rep + 1) * hd] for h in range(self.heads)])
        sinks = self.w(p + "sinks") if self.gpt_oss else None
        o = attention(Q, K, V, self.scale, self.cap, self.windows[l], sinks)
        ob = p + "o_proj.bias"
        return linear(o, self.m(p + "o_proj.weight"), self.w(ob) if self.has(ob) else None)

    def experts(self, p, n):
        """(act, up, down) of expert e under prefix p (per-expert or fused)."""
        if self.has(p + "experts.gate_up_proj"):
            gu, gus = self.t[p + "experts.gate_up_proj"]
            dn, dns = self.t[p + "experts.down_proj"]
            I2, H = gus[1], gus[2]
            out = []
            for e in range(n):
                g = [gu[(e * I2 + r) * H:(e * I2 + r + 1) * H] for r in range(I2)]
                dd = [dn[(e * dns[1] + r) * dns[2]:(e * dns[1] + r + 1) * dns[2]] for r in range(dns[1])]
                out.append((g[:I2 // 2], g[I2 // 2:], dd))
            return out
        if self.has(p + "experts.0.w1.weight"):
            names = ("w1", "w3", "w2")
        elif self.has(p + "experts.0.linear.weight"):  # Grok-1
            names = ("linear", "linear_v", "linear_1")
        else:
            names = ("gate_proj", "up_proj", "down_proj")
        return [tuple(self.m("%sexperts.%d.%s.weight" % (p, e, nm)) for nm in names) for e in range(n)]

    def gpt_oss_ffn(self, l, x):
        """GptOssMLP: logits = W x + b; top-k on the logits, softmax over the k; each expert
        gate_up (interleaved: gate at even, up at odd outputs) with bias, clamped SwiGLU
        (up + 1) * g * sigmoid(alpha g), g = min(gate, limit), up clamped to +-limit; down + bias."""
        c = self.cfg
        p = "model.layers.%d.mlp." % l
        n, k = c["num_local_experts"], c["num_experts_per_tok"]
        logits = linear(x, self.m(p + "router.weight"), self.w(p + "router.bias"))
        gu, gshape = self.t[p + "experts.gate_up_proj"]
        dn, dshape = self.t[p + "experts.down_proj"]
        gub, dnb = self.w(p + "experts.gate_up_proj_bias"), self.w(p + "experts.down_proj_bias")
        H = c["hidden_size"]
        I2 = 2 * c["intermediate_size"]
        # Linear layout [out][in] per expert: MXFP4 blocks decode to [E, 2I, H] / [E, H, I];
        # the dequantised (BF16) tensors are stored transposed, [E, H, 2I] / [E, I, H].
        mx = p + "experts.gate_up_proj" in MXFP4_DECODED

        def weight(vals, e, rows, cols, transposed):
            base = e * rows * cols
            if not transposed:
                return [vals[base + r * cols:base + (r + 1) * cols] for r in range(rows)]
            return [[vals[base + i * rows + r] for i in range(cols)] for r in range(rows)]

        out = []
        for row, lg in zip(x, logits):
            sel = topk(lg, k)
            mxl = max(lg[i] for i in sel)
            ex = [math.exp(lg[i] - mxl) for i in sel]
            wts = [v / sum(ex) for v in ex]
            y = [0.0] * H
            for e, wt in zip(sel, wts):
                g = weight(gu, e, I2, H, not mx)
                d = weight(dn, e, H, I2 // 2, not mx)
                z = linear([row], g, gub[e * I2:(e + 1) * I2])[0]
                h = []
                for i in range(I2 // 2):
                    gate, up = min(z[2 * i], self.limit), max(min(z[2 * i + 1], self.limit), -self.limit)
                    h.append((up + 1) * gate / (1 + math.exp(-self.alpha * gate)))
                eo = linear([h], d, dnb[e * H:(e + 1) * H])[0]
                y = [a + wt * b for a, b in zip(y, eo)]
            out.append(y)
        return out

    def ffn(self, l, x):
        c = self.cfg
        t = self.type
        if self.gpt_oss:
            return self.gpt_oss_ffn(l, x)
        block = "mlp"
        for b in ("block_sparse_moe", "moe_block"):
            if self.has("model.layers.%d.%s.gate.weight" % (l, b)):
                block = b
        p = "model.layers.%d.%s." % (l, block)
        if not self.has(p + "gate.weight"):
            return mlp(x, self.m(p + "gate_proj.weight"), self.m(p + "up_proj.weight"), self.m(p + "down_proj.weight"))
        n = c.get("num_local_experts") or c.get("num_experts") or c.get("n_routed_experts")
        k = c["num_experts_per_tok"]
        logits = linear(x, self.m(p + "gate.weight"))
        ex = self.experts(p, n)
        bias = self.w(p + "gate.e_score_correction_bias") if self.has(p + "gate.e_score_correction_bias") else None
        out = []
        for ti, (row, lg) in enumerate(zip(x, logits)):
            if t in ("deepseek_v3", "glm4_moe"):
                sc = [1 / (1 + math.exp(-z)) for z in lg]
                ch = [s + (bias[i] if bias else 0.0) for i, s in enumerate(sc)]
                g, tg = c.get("n_group", 1), c.get("topk_group", 1)
                per = n // g
                gs = [sum(sorted(ch[j * per:(j + 1) * per], reverse=True)[:2]) for j in range(g)]
                keep = set(topk(gs, tg))
                ch = [v if i // per in keep else 0.0 for i, v in enumerate(ch)]
                sel = topk(ch, k)
                wts = [sc[i] for i in sel]
                if c.get("norm_topk_prob", True):
                    z = sum(wts) + 1e-20
                    wts = [v / z for v in wts]
                wts = [v * c.get("routed_scaling_factor", 1.0) for v in wts]
            else:
                mx = max(lg)
                e = [math.exp(z - mx) for z in lg]
                z = sum(e)
                sc = [v / z for v in e]
                sel = topk(sc, k)
                wts = [sc[i] for i in sel]
                renorm = {"mixtral": True, "deepseek_v2": False, "grok-1": False}.get(t, c.get("norm_topk_prob", False))
                if renorm:
                    s = sum(wts)
                    wts = [v / s for v in wts]
                if t in ("deepseek_v2", "deepseek"):
                    wts = [v * c.get("routed_scaling_factor", 1.0) for v in wts]
            y = [0.0] * len(row)
            for i, wt in zip(sel, wts):
                eo = mlp([row], *ex[i], fn=gelu if self.grok else silu)[0]
                y = [a + wt * b for a, b in zip(y, eo)]
            out.append(y)
        for sp in ("shared_expert.", "shared_experts."):
            if self.has(p + sp + "gate_proj.weight"):
                s = mlp(x, self.m(p + sp + "gate_proj.weight"), self.m(p + sp + "up_proj.weight"), self.m(p + sp + "down_proj.weight"))
                if self.has(p + "shared_expert_gate.weight"):
                    gl = linear(x, self.m(p + "shared_expert_gate.weight"))
                    s = [[v / (1 + math.exp(-g[0])) for v in row] for row, g in zip(s, gl)]
                out = [[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(out, s)]
        return out

    def is_moe(self, l):
        return self.has("model.layers.%d.mlp.router.weight" % l) or any(
            self.has("model.layers.%d.%s.gate.weight" % (l, b)) for b in ("block_sparse_moe", "moe_block", "mlp"))

    def forward(self, ids, moe_inputs=None):
        """Logits; when moe_inputs is a dict, also the input of every MoE block (the
        post-attention-norm hidden state the router sees) by decoder layer."""
        E = self.m("model.embed_tokens.weight")
        h = [[v * self.emb_mult for v in E[i]] for i in ids]
        for l in range(self.cfg["num_hidden_layers"]):
            p = "model.layers.%d." % l
            if self.grok:
                a = self.attn(l, rms(h, self.w(p + "pre_attn_norm.weight"), self.eps))
                a = rms(a, self.w(p + "post_attn_norm.weight"), self.eps)
            else:
                a = self.attn(l, rms(h, self.w(p + "input_layernorm.weight"), self.eps))
            h = [[x + y for x, y in zip(r1, r2)] for r1, r2 in zip(h, a)]
            norm = "pre_moe_norm" if self.grok else "post_attention_layernorm"
            x = rms(h, self.w(p + norm + ".weight"), self.eps)
            if moe_inputs is not None and self.is_moe(l):
                moe_inputs[l] = x
            f = self.ffn(l, x)
            if self.grok:
                f = rms(f, self.w(p + "post_moe_norm.weight"), self.eps)
            h = [[x + y for x, y in zip(r1, r2)] for r1, r2 in zip(h, f)]
        h = rms(h, self.w("model.norm.weight"), self.eps)
        head = "lm_head.weight" if self.has("lm_head.weight") else "model.embed_tokens.weight"
        return [[v * self.out_mult for v in row] for row in linear(h, self.m(head))]


def moe_inputs_main(d, sequences):
    """reference_forward.py MODEL_DIR --moe-inputs 1,2,3 4,5 > moe_inputs.json: each sequence
    run on its own; per MoE layer the [T, H] inputs of all sequences concatenated in order."""
    model = Model(d)
    layers = {}
    for ids in sequences:
        got = {}
        model.forward(ids, got)
        for l, x in got.items():
            layers.setdefault(l, []).extend(v for row in x for v in row)
    json.dump({"source": "tests/data/forward/reference_forward.py --moe-inputs (float64)",
               "sequences": sequences, "hidden_size": model.cfg["hidden_size"],
               "moe_inputs": {str(l): v for l, v in sorted(layers.items())}}, sys.stdout)
    print()


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "--moe-inputs":
        return moe_inputs_main(sys.argv[1], [[int(v) for v in a.split(",")] for a in sys.argv[3:]])
    d, ids = sys.argv[1], [int(v) for v in sys.argv[2].split(",")]
    logits = Model(d).forward(ids)
    json.dump({"source": "tests/data/forward/reference_forward.py (float64, from the HF modeling math)",
               "input_ids": ids, "vocab_size": len(logits[0]),
               "hf_logits": [v for row in logits for v in row]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
