// The wasm heap around one `Sampler.sample` call of many rows on an HF model (the SFT probe's and
// evaluation's shape): loads DIR with --block-size positions, optionally takes two small training
// steps first (AdamW moments and gradients on the heap, as in `duet train`), then samples --rows
// rows of --prompt random-ish tokens, --new tokens each, greedy, and prints the heap's size (4 GiB
// at most) before and after, or the failure. Needs `npx nx run-many -t build` first.
//   node tools/bench-hf/sample-heap.mjs --model DIR [--rows 200] [--prompt 14] [--new 8] [--block-size 64] [--train]
import { Engine, tf } from "@duet/engine"
import { AdamW, Hf, Sampler } from "@duet/model"
import { arg, required } from "./args.mjs"

const dir = required("model", "sample-heap.mjs")
const rows = Number(arg("rows", 200)), P = Number(arg("prompt", 14)), NEW = Number(arg("new", 8))
await Engine.init({ threads: 1 })
const GiB = (n) => `${(n / 2 ** 30).toFixed(2)} GiB`
const state = () => `heap ${GiB(tf.backend().wasm?.HEAPU8?.length ?? NaN)}, live tensors ${GiB(tf.memory().numBytes)}`
const { policy } = await Hf.load(dir, { blockSize: Number(arg("block-size", 64)) })
const V = Math.min(policy.config.vocabSize, 300)
console.log(`loaded ${dir}: ${state()}`)
if (process.argv.includes("--train")) {
  const opt = AdamW.init(policy.params)
  const prompts = Array.from({ length: 8 }, (_, i) => Int32Array.from({ length: 12 }, (_, t) => (i * 31 + t * 7) % V))
  const completions = Array.from({ length: 8 }, (_, i) => Int32Array.from({ length: 8 }, (_, t) => (i * 17 + t * 5) % V))
  for (let s = 0; s < 2; s++) {
    const { value, grads } = policy.lossAndGrads(() => {
      const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
      return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask)))
    })
    AdamW.apply(policy.params, grads, opt, AdamW.makeConfig({ lr: 1e-5 }))
    tf.dispose([value, ...grads.values()])
  }
  console.log(`after 2 train steps (8 x 20 tokens): ${state()}`)
}
const prompts = Array.from({ length: rows }, (_, i) => Int32Array.from({ length: P }, (_, t) => (i * 13 + t * 3) % V))
try {
  const t0 = performance.now()
  Sampler.sample(policy, prompts, { maxTokens: NEW, temperature: 0, seed: 1 })
  console.log(`sampled ${rows} rows x ${NEW} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${state()}`)
} catch (e) {
  console.log(`sample of ${rows} rows FAILED: ${String(e?.message ?? e).split("\n")[0]}; ${state()}`)
}
