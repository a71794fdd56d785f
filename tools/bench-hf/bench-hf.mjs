// Size and speed of a Llama-family policy on this machine: the same as `duet bench --model DIR |
// --model-config NAME|FILE` (HfBench in @duet/model), without the CLI. Defaults: a
// SmolLM2-135M-shaped config with random weights, train 4 x 128 (forward + backward + AdamW),
// decode 8 rows x 32 new tokens with the KV cache; prints tokens/s, peak RSS, the wasm heap and
// tensor peaks. Needs `npx nx run-many -t build` first. See docs/benchmarks.md.
//   node tools/bench-hf/bench-hf.mjs [--model-config smollm2-135m|qwen2.5-0.5b|qwen2.5-1.5b|FILE | --model DIR]
//     [--batch 4] [--seq 128] [--decode-batch 8] [--new 32] [--steps 1] [--rounds 3]
//     [--blas auto|openblas|js] [--threads 1] [--json]
import { HfBench } from "@duet/model"
import { arg } from "./args.mjs"

const num = (k) => (arg(k, undefined) === undefined ? {} : { [k]: Number(arg(k)) })
const source = arg("model", undefined) !== undefined ? { dir: arg("model") } : { config: arg("model-config", arg("config", "smollm2-135m")) }
await HfBench.cli(source, {
  ...num("batch"),
  ...num("seq"),
  ...(arg("decode-batch", undefined) === undefined ? {} : { decodeBatch: Number(arg("decode-batch")) }),
  ...(arg("new", undefined) === undefined ? {} : { newTokens: Number(arg("new")) }),
  ...num("steps"),
  ...num("rounds"),
  ...num("threads"),
  blas: arg("blas", "auto"),
  json: process.argv.includes("--json")
})
