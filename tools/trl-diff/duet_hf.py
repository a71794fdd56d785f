"""duet GPT parameter names <-> transformers GPT2LMHeadModel state dict (q/k/v <-> c_attn, tied lm_head)."""
import torch


def to_hf(sd):
    new = {}
    for k, v in sd.items():
        if ".attn.c_q." in k:
            dim = 1 if k.endswith("weight") else 0
            new[k.replace(".c_q.", ".c_attn.")] = torch.cat([v, sd[k.replace("c_q", "c_k")], sd[k.replace("c_q", "c_v")]], dim=dim)
        elif ".attn.c_k." in k or ".attn.c_v." in k:
            continue
        else:
            new[k] = v
    new["lm_head.weight"] = sd["transformer.wte.weight"]
    return new


def from_hf(sd, n_embd):
    """State dict or gradient dict of GPT2LMHeadModel -> duet names."""
    out = {}
    for k, v in sd.items():
        if ".attn.c_attn." in k:
            parts = torch.split(v, n_embd, dim=1 if k.endswith("weight") else 0)
            for nm, part in zip(("c_q", "c_k", "c_v"), parts):
                out[k.replace("c_attn", nm)] = part
        elif k == "lm_head.weight" or k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
            continue
        else:
            out[k] = v
    return out
