"""Writes small dataset files in the exact shapes researchers bring to duet train.

Run from the repository root (pyarrow from the local index):
    /work/pyenv/bin/python tools/ecosystem/make_data_fixtures.py

Shapes, as the real files have them (checked against their schemas, not downloaded here):
- verl GSM8K parquet: what verl's examples/data_preprocess/gsm8k.py writes: data_source,
  prompt = [{role, content}] (question + verl's instruction), ability, reward_model {style,
  ground_truth}, extra_info {split, index (int64), answer (the full "... #### N" solution), question}.
- HF GSM8K parquet (openai/gsm8k, main/*.parquet): question, answer ("... #### N").
- DAPO-Math-17k parquet (BytedTsinghua-SIA/DAPO-Math-17k): data_source "math_dapo",
  prompt = [{content, role}] with DAPO's "Answer: $Answer" instruction, ability "MATH",
  reward_model {ground_truth, style "rule-lighteval/MATH_v2"}, extra_info {index: a uuid string}.
- MATH-500 JSONL (HuggingFaceH4/MATH-500 test.jsonl): problem, solution (with \\boxed{}),
  answer, subject, level (int), unique_id.
The problems are synthetic one-digit sums (so a tiny model trains on them in seconds); only the
shapes are the datasets'.
"""
import json
import os
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "pipeline", "test", "fixtures", "ecosystem")
os.makedirs(OUT, exist_ok=True)

VERL_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".'
DAPO_PREFIX = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
DAPO_SUFFIX = '\n\nRemember to put your answer on its own line after "Answer:".'


def sums(n, offset):
    return [((i * 7 + offset) % 10, (i * 3 + offset) % 10) for i in range(n)]


def gsm8k_row(a, b):
    return {
        "question": f"Ann has {a} pens and gets {b} more. How many pens?",
        "answer": f"Ann has {a}+{b}=<<{a}+{b}={a + b}>>{a + b} pens.\n#### {a + b}",
    }


def write_parquet(name, rows):
    pq.write_table(pa.Table.from_pylist(rows), os.path.join(OUT, name))


for split, n, offset in [("train", 24, 0), ("test", 8, 5)]:
    # HF GSM8K
    write_parquet(f"hf-gsm8k-{split}.parquet", [gsm8k_row(a, b) for a, b in sums(n, offset)])
    # verl GSM8K (verl/examples/data_preprocess/gsm8k.py, make_map_fn)
    verl = []
    for idx, (a, b) in enumerate(sums(n, offset)):
        raw = gsm8k_row(a, b)
        verl.append(
            {
                "data_source": "openai/gsm8k",
                "prompt": [{"role": "user", "content": raw["question"] + " " + VERL_INSTRUCTION}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(a + b)},
                "extra_info": {"split": split, "index": idx, "answer": raw["answer"], "question": raw["question"]},
            }
        )
    write_parquet(f"verl-gsm8k-{split}.parquet", verl)
    # DAPO-Math-17k
    dapo = [
        {
            "data_source": "math_dapo",
            "prompt": [{"content": DAPO_PREFIX + f"What is ${a}+{b}$?" + DAPO_SUFFIX, "role": "user"}],
            "ability": "MATH",
            "reward_model": {"ground_truth": str(a + b), "style": "rule-lighteval/MATH_v2"},
            "extra_info": {"index": str(uuid.UUID(int=(offset << 16) + i))},
        }
        for i, (a, b) in enumerate(sums(n, offset))
    ]
    write_parquet(f"dapo-math-{split}.parquet", dapo)
    # MATH-500
    with open(os.path.join(OUT, f"math500-{split}.jsonl"), "w") as f:
        for i, (a, b) in enumerate(sums(n, offset)):
            row = {
                "problem": f"Compute ${a}+{b}$.",
                "solution": f"We add: ${a}+{b}={a + b}$.\nSo it is $\\boxed{{{a + b}}}$.",
                "answer": str(a + b),
                "subject": "Prealgebra",
                "level": 1,
                "unique_id": f"test/prealgebra/{offset * 100 + i}.json",
            }
            f.write(json.dumps(row) + "\n")

for name in sorted(os.listdir(OUT)):
    path = os.path.join(OUT, name)
    if name.endswith(".parquet"):
        t = pq.read_table(path)
        print(name, t.num_rows, "rows", t.schema.to_string(show_schema_metadata=False).replace("\n", "; "))
    else:
        print(name, sum(1 for _ in open(path)), "rows")
