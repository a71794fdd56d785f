// Where the wasm heap goes when a SmolLM2-135M-shaped Llama trains (random weights): for each
// (batch x tokens) shape, one SFT step (forward + backward + AdamW) under tf.profile, printing the
// tensors' peak bytes, the largest kernel outputs, live tensor bytes after the step (a leak shows
// here) and the wasm heap's size (it grows, never shrinks; 4 GiB is tfjs-wasm's maximum).
// Needs `nx run @duet/model:build` first.
//   node tools/bench-hf/memory.mjs [--shapes 1x32,1x64,2x64,2x128,4x128] [--top 8] [--config smollm2-135m|qwen2.5-0.5b|path/to/config.json]
import { Engine, tf } from "@duet/engine"
import { AdamW, HfBench, Llama } from "@duet/model"
import { arg } from "./args.mjs"

// A preset of HfBench.presets (smollm2-135m, qwen2.5-0.5b, qwen2.5-1.5b) or a config.json path.
const { config } = HfBench.resolveConfig(arg("config", "smollm2-135m"))
const shapes = arg("shapes", "1x32,1x64,2x64,2x128,4x128").split(",").map((s) => s.split("x").map(Number))
const top = Number(arg("top", 8))
const GiB = (n) => `${(n / 2 ** 30).toFixed(2)} GiB`
const heap = () => tf.backend().wasm?.HEAPU8?.length ?? NaN

const engine = await Engine.init()
console.log(`engine: ${engine.backend} ${engine.matmul ?? ""}`)
const policy = Llama.init(config, 1)
const params = Llama.parameterCount(config)
console.log(`params ${params.toLocaleString("en-US")} (${GiB(4 * params)} float32); tensors ${GiB(tf.memory().numBytes)}, heap ${GiB(heap())}`)
const opt = AdamW.makeConfig({ lr: 1e-4 })
const state = AdamW.init(policy.params)
console.log(`+ AdamW moments: tensors ${GiB(tf.memory().numBytes)}, heap ${GiB(heap())}`)
for (const [B, T] of shapes) {
  const rows = Array.from({ length: B }, (_, b) => Int32Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729) % config.vocabSize))
  const prompts = rows.map((r) => r.subarray(0, T / 2))
  const completions = rows.map((r) => r.subarray(T / 2))
  const before = tf.memory().numBytes
  try {
    const t0 = performance.now()
    const info = await tf.profile(() => {
      const { value, grads } = policy.lossAndGrads(() => {
        const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
        return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask)))
      })
      AdamW.apply(policy.params, grads, state, opt)
      tf.dispose([value, ...grads.values()])
    })
    const dt = (performance.now() - t0) / 1000
    const biggest = [...info.kernels].sort((a, b) => b.bytesAdded - a.bytesAdded).slice(0, top)
    console.log(
      `${B}x${T}: ok in ${dt.toFixed(1)} s; peak tensors ${GiB(info.peakBytes)} (${GiB(info.peakBytes - before)} above the step's start); ` +
        `live after ${GiB(tf.memory().numBytes)} (${tf.memory().numBytes - before} bytes leaked); heap ${GiB(heap())}`
    )
    for (const k of biggest) console.log(`    ${k.name.padEnd(22)} ${(k.bytesAdded / 2 ** 20).toFixed(0).padStart(6)} MiB  out [${k.outputShapes.map((s) => s.join("x")).join(", ")}]`)
  } catch (e) {
    console.log(`${B}x${T}: FAILED: ${String(e?.message ?? e).split("\n")[0]}; heap ${GiB(heap())}`)
    break
  }
}
