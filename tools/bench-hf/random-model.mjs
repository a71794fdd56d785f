// Writes an HF directory with random weights (Llama.init, std 0.02, float32) of a preset or
// config.json, plus the tokenizer files of another directory (default: the llama-gqa test fixture,
// a 320-token byte-level BPE; ids past it decode to nothing), so that `duet train --model DIR` can
// run a model of that size. Nothing is downloaded. Needs `npx nx run-many -t build` first.
//   node tools/bench-hf/random-model.mjs --out /tmp/smollm2-135m-random [--model-config smollm2-135m]
//     [--tokenizer-from packages/model/test/fixtures/hf/llama-gqa] [--seed 1]
import { Engine } from "@duet/engine"
import { Hf, HfBench, Llama } from "@duet/model"
import { arg, required } from "./args.mjs"

const out = required("out", "random-model.mjs")
const { name, config } = HfBench.resolveConfig(arg("model-config", "smollm2-135m"))
await Engine.init({ threads: 1 })
const t0 = performance.now()
const policy = Llama.init(config, Number(arg("seed", 1)))
await Hf.save(out, policy, { filesFrom: arg("tokenizer-from", "packages/model/test/fixtures/hf/llama-gqa") })
policy.dispose()
console.log(`${out}: ${name}, ${Llama.parameterCount(config).toLocaleString("en-US")} parameters, random, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
