"""Loads a `duet export --to hf` directory with transformers (AutoModelForCausalLM, AutoTokenizer)
and records the token ids and logits of fixed texts, for packages/pipeline/test/HfExport.test.ts.

    npx nx run-many -t build -p @duet/cli
    node tools/ecosystem/make_export_checkpoint.mjs            # the fixture checkpoint (committed)
    node apps/cli/dist/main.js export packages/pipeline/test/fixtures/hf-export/checkpoint --to hf /tmp/duet-hf
    /work/pyenv/bin/python tools/ecosystem/hf_export_logits.py /tmp/duet-hf \
        packages/pipeline/test/fixtures/hf-export/logits.json
"""
import json
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

src, out = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(src)
model = AutoModelForCausalLM.from_pretrained(src).eval()
assert type(model).__name__ == "GPT2LMHeadModel", type(model).__name__
texts = ["12+34=", "7-5=2\n", "99 + 1 = 100", "0"]
ids = [tok(t)["input_ids"] for t in texts]
# BOS first, then one id per character; decoding the characters gives the text back (the stop
# marker "\n" is eos_token, so skip_special_tokens would drop it, as generation does).
assert all(i[0] == tok.bos_token_id == 1 and len(i) == len(t) + 1 for i, t in zip(ids, texts)), ids
assert tok.decode(ids[1][1:]) == texts[1], tok.decode(ids[1][1:])
assert tok.eos_token_id == model.generation_config.eos_token_id == ids[1][-1], (tok.eos_token_id, ids[1])
with torch.no_grad():
    logits = [model(torch.tensor([i])).logits[0].tolist() for i in ids]
    # Greedy decoding stops at the task's stop marker (eos_token_id in generation_config.json).
    gen = model.generate(torch.tensor([ids[0]]), max_new_tokens=8, do_sample=False)[0].tolist()
json.dump(
    {
        "transformers": transformers.__version__,
        "model": type(model).__name__,
        "texts": texts,
        "ids": ids,
        "greedy": tok.decode(gen[len(ids[0]):], skip_special_tokens=True),
        "logits": logits,
    },
    open(out, "w"),
)
print(f"{out}: {len(texts)} texts, {sum(len(i) for i in ids)} positions, vocab {len(logits[0][0])}; greedy after {texts[0]!r}: {tok.decode(gen[len(ids[0]):], skip_special_tokens=True)!r}")
