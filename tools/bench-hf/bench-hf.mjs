// Rough size/speed of a Llama-family policy on this machine: a SmolLM2-135M-shaped config with
// random weights (or --config path/to/config.json). One SFT step (forward + backward + AdamW) and
// KV-cached decoding; prints tokens/s and peak RSS. Needs `nx run @duet/model:build` first.
//   node tools/bench-hf/bench-hf.mjs [--batch 4] [--seq 128] [--decode-batch 8] [--new 32] [--steps 2]
import { readFileSync } from "node:fs"
import { Engine, tf } from "@duet/engine"
import { AdamW, Hf, Llama, Sampler } from "@duet/model"

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? d : process.argv[i + 1]
}
const smollm2_135m = {
  model_type: "llama", vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
  num_attention_heads: 9, num_key_value_heads: 3, max_position_embeddings: 8192, rms_norm_eps: 1e-5,
  rope_theta: 100000, tie_word_embeddings: true
}
const cfgPath = arg("config", undefined)
const config = Hf.parseConfig(cfgPath ? JSON.parse(readFileSync(cfgPath, "utf8")) : smollm2_135m, cfgPath ?? "smollm2-135m")
const B = Number(arg("batch", 4)), T = Number(arg("seq", 128)), DB = Number(arg("decode-batch", 8)), NEW = Number(arg("new", 32)), STEPS = Number(arg("steps", 2))
let peak = 0
const sampleRss = () => (peak = Math.max(peak, process.memoryUsage().rss))
const timer = setInterval(sampleRss, 50)

const engine = await Engine.init()
console.log(`engine: ${JSON.stringify(engine)}`)
let t0 = performance.now()
const policy = Llama.init(config, 1)
console.log(`params ${Llama.parameterCount(config).toLocaleString("en-US")}, init ${((performance.now() - t0) / 1000).toFixed(1)} s`)
const rows = Array.from({ length: B }, (_, b) => Int32Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729) % config.vocabSize))
const prompts = rows.map((r) => r.subarray(0, T / 2))
const completions = rows.map((r) => r.subarray(T / 2))
const opt = AdamW.makeConfig({ lr: 1e-4 })
const state = AdamW.init(policy.params)
for (let s = 0; s < STEPS; s++) {
  t0 = performance.now()
  const { value, grads } = policy.lossAndGrads(() => {
    const { logprobs, mask } = policy.sequenceLogprobs(prompts, completions)
    return tf.neg(tf.div(tf.sum(tf.mul(logprobs, mask)), tf.sum(mask)))
  })
  AdamW.apply(policy.params, grads, state, opt)
  const loss = value.dataSync()[0]
  tf.dispose([value, ...grads.values()])
  const dt = (performance.now() - t0) / 1000
  sampleRss()
  console.log(`train step ${s}: ${dt.toFixed(2)} s, ${(B * (T - 1) / dt).toFixed(0)} tok/s, loss ${loss.toFixed(3)}`)
}
const dprompts = Array.from({ length: DB }, (_, b) => Int32Array.from({ length: 16 }, (_, t) => (b * 31 + t * 17) % config.vocabSize))
t0 = performance.now()
const out = Sampler.sample(policy, dprompts, { maxTokens: NEW, seed: 1 })
const dt = (performance.now() - t0) / 1000
const n = out.reduce((a, c) => a + c.tokens.length, 0)
sampleRss()
console.log(`decode: ${n} tokens (${DB} rows x ${NEW}) in ${dt.toFixed(2)} s, ${(n / dt).toFixed(0)} tok/s (prefill included)`)
console.log(`peak RSS ${(peak / 2 ** 30).toFixed(2)} GiB`)
clearInterval(timer)
