"""Checks `duet serve` with the official `openai` Python client: models, completions (n, logprobs,
seed), the chat 400, and a bad-parameter 400. Starts the built `duet serve` on a free loopback port.

usage: /work/pyenv/bin/python tools/bench-serve/openai_python_check.py CHECKPOINT_DIR [HF_DIR]
(a checkpoint: the one tools/bench-serve/bench-serve.mjs leaves, or any duet train checkpoint; with
HF_DIR, e.g. packages/model/test/fixtures/hf/qwen2-bias, also chat completions through its chat
template, compared with transformers' greedy decoding of the same rendered prompt)
"""
import os
import subprocess
import sys

import openai

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
proc = subprocess.Popen(["node", os.path.join(root, "apps/cli/bin/duet.js"), "serve", sys.argv[1], "--port", "0", "--served-model-name", "gpt"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    base_url = proc.stdout.readline().strip()
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["gpt"]
    r = client.completions.create(model="gpt", prompt="12+7=", n=3, max_tokens=6, logprobs=2, seed=1)
    assert len(r.choices) == 3
    for c in r.choices:
        assert len(c.logprobs.token_logprobs) == len(c.logprobs.tokens) > 0
        assert c.finish_reason in ("stop", "length")
        assert all(len(t) >= 2 for t in c.logprobs.top_logprobs)
    again = client.completions.create(model="gpt", prompt="12+7=", n=3, max_tokens=6, logprobs=2, seed=1)
    assert [c.text for c in again.choices] == [c.text for c in r.choices]
    ids = client.completions.create(model="gpt", prompt=[1, 4, 5], max_tokens=4, extra_body={"return_token_ids": True})
    assert len(ids.choices[0].model_extra["token_ids"]) <= 4
    try:
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("chat should fail")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and "no chat template" in e.message, e.message
    try:
        client.completions.create(model="gpt", prompt="1", temperature=-1)
        raise AssertionError("temperature -1 should fail")
    except openai.BadRequestError as e:
        assert e.body["param"] == "temperature", e.body
    print(f"openai {openai.__version__} (Python) against duet serve at {base_url}: models, completions (n, logprobs, seed, token ids), chat 400, param 400: OK")
finally:
    proc.terminate()
    proc.wait(timeout=30)

if len(sys.argv) > 2:
    import torch
    import transformers

    hf_dir = sys.argv[2]
    proc = subprocess.Popen(["node", os.path.join(root, "apps/cli/bin/duet.js"), "serve", hf_dir, "--port", "0", "--served-model-name", "hf"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = proc.stdout.readline().strip()
        client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "What is 12 + 7?"}]
        r = client.chat.completions.create(model="hf", messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3,
                                           extra_body={"ignore_eos": True, "return_token_ids": True})
        c = r.choices[0]
        assert c.message.role == "assistant" and len(c.logprobs.content) == 8
        assert all(len(t.top_logprobs) == 3 for t in c.logprobs.content)
        tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
        model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
        assert c.model_extra["prompt_token_ids"] == prompt[0].tolist(), (c.model_extra["prompt_token_ids"], prompt[0].tolist())
        out = model.generate(prompt, max_new_tokens=8, do_sample=False, min_new_tokens=8)
        assert c.model_extra["token_ids"] == out[0, prompt.shape[1]:].tolist(), (c.model_extra["token_ids"], out[0, prompt.shape[1]:].tolist())
        print(f"openai {openai.__version__} (Python) chat against duet serve {hf_dir}: prompt ids = transformers apply_chat_template, greedy ids = transformers generate: OK")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
