"""Loads duet checkpoints of Hugging Face policies with transformers, unchanged, and compares their
log-probs with a fixture's reference.json (what transformers computed on the source model).

A checkpoint saved before any update holds the source weights widened to float32, so the difference
must be 0 up to float32 rounding. Make them with duet (PolicyStore.save of store.init()), then:

  /work/pyenv/bin/python tools/hf-fixtures/check_checkpoint.py CKPT_DIR:FIXTURE_NAME ...

e.g. CKPT_DIR=/tmp/ckpt/llama-gqa FIXTURE_NAME=llama-gqa. Exits 1 when a difference exceeds 1e-4.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "model", "test", "fixtures", "hf")

worst_all = 0.0
for arg in sys.argv[1:]:
    ckpt, name = arg.rsplit(":", 1)
    ref = json.load(open(os.path.join(FIXTURES, name, "reference.json")))
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32, attn_implementation="eager")
    tok = AutoTokenizer.from_pretrained(ckpt)
    worst = 0.0
    for row in ref["rows"]:
        assert tok(row["prompt"])["input_ids"] == row["promptIds"], f"{name}: prompt ids differ"
        ids = torch.tensor([row["promptIds"] + row["completionIds"]])
        with torch.no_grad():
            lp = torch.log_softmax(model(ids).logits[0].double(), -1)
        p = len(row["promptIds"])
        got = [lp[p - 1 + j, t].item() for j, t in enumerate(row["completionIds"])]
        worst = max(worst, max(abs(a - b) for a, b in zip(got, row["logprobs"])))
    worst_all = max(worst_all, worst)
    print(f"{name}: {ckpt} loads in transformers; max |log-prob - reference| = {worst:.3g}")
sys.exit(0 if worst_all <= 1e-4 else 1)
