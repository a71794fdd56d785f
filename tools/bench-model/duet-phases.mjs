#!/usr/bin/env node
// duet's training step and decode split into phases, to set beside peer.py's torch phases: the
// same model, tokens and step as Bench.run (@duet/model), duet kernels only.
//   forward   = tokenLogprobs + mean NLL, read back
//   backward  = lossAndGrads (forward + backward, loss read back) minus forward
//   optimizer = AdamW.apply with clipping, timed inside the full step (tfjs-wasm runs eagerly)
//   prefill   = Sampler.sample with maxTokens 1 (the prompt forward and one draw)
//   steps     = full decode minus prefill (the per-token KV-cache steps)
// Each in wall ms and in process CPU ms (all threads), the latter less inflated by other jobs.
// Medians over --rounds (5) after one warm-up of each. Build first (see bench-model.mjs).
// Run: node tools/bench-model/duet-phases.mjs [--blas auto|native|openblas|js] [--rounds N] [--json]
//      [--dim 128 --layers 4 --heads 4 --vocab 32 --batch 32 --seq 64 --decode-batch 256 --prompt-length 8]
import { Engine, tf } from "@duet/engine"
import { AdamW, Bench, Gpt, Sampler } from "@duet/model"

const o = { dim: 128, layers: 4, heads: 4, vocab: 32, batch: 32, seq: 64, decodeBatch: 256, promptLength: 8, rounds: 5, blas: "auto", json: false }
const names = { "--dim": "dim", "--layers": "layers", "--heads": "heads", "--vocab": "vocab", "--batch": "batch", "--seq": "seq", "--decode-batch": "decodeBatch", "--prompt-length": "promptLength", "--rounds": "rounds" }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const f = argv[i]
  if (f === "--json") o.json = true
  else if (f === "--blas") o.blas = argv[++i]
  else if (f in names) o[names[f]] = Number(argv[++i])
  else {
    console.error(`usage: node tools/bench-model/duet-phases.mjs [--blas auto|native|openblas|js] [--rounds N] [--json] [dims]; unknown ${f}`)
    process.exit(f === "--help" ? 0 : 2)
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
// Wall ms, and CPU ms of the whole process (all threads: user + system), which a busy shared
// machine inflates far less than wall time.
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const time = (f, cpu) => {
  const c0 = cpuMs()
  const t0 = performance.now()
  f()
  const wall = performance.now() - t0
  cpu.push(cpuMs() - c0)
  return wall
}

const trainInfo = await Engine.init({ backend: "wasm", kernels: "duet", blas: o.blas })
const { config, inputs, targets, prompts } = Bench.workload(o)
const policy = Gpt.init(config, 7)
const x = tf.tensor2d(inputs, [o.batch, o.seq], "int32")
const y = tf.tensor2d(targets, [o.batch, o.seq], "int32")
const state = AdamW.init(policy.params)
const opt = AdamW.makeConfig({ lr: 1e-4 })
const loss = () => tf.neg(tf.mean(policy.tokenLogprobs(x, y)))

const forward = () => tf.tidy(() => loss().dataSync())
const fwdBwd = () => {
  const { value, grads } = policy.lossAndGrads(loss)
  value.dataSync()
  tf.dispose([value, ...grads.values()])
}
const t = { forward: [], fwdBwd: [], step: [], optimizer: [] }
const c = { forward: [], fwdBwd: [], step: [], optimizer: [] }
const step = () => {
  const c0 = cpuMs()
  const t0 = performance.now()
  const { value, grads } = policy.lossAndGrads(loss)
  value.dataSync()
  const t1 = performance.now()
  const c1 = cpuMs()
  AdamW.apply(policy.params, grads, state, opt)
  policy.params.values().next().value.dataSync()
  const t2 = performance.now()
  const c2 = cpuMs()
  tf.dispose([value, ...grads.values()])
  t.step.push(t2 - t0)
  t.optimizer.push(t2 - t1)
  c.step.push(c2 - c0)
  c.optimizer.push(c2 - c1)
}
step()
forward()
fwdBwd()
t.step.length = t.optimizer.length = c.step.length = c.optimizer.length = 0
for (let r = 0; r < o.rounds; r++) {
  t.forward.push(time(forward, c.forward))
  t.fwdBwd.push(time(fwdBwd, c.fwdBwd))
  step()
}

const decodeInfo = await Engine.init({ backend: "wasm", kernels: "duet", blas: o.blas, threads: 1 })
const decode = (maxTokens, seed) => Sampler.sample(policy, prompts, { maxTokens, seed, cache: "inPlace" })
const d = { prefill: [], full: [] }
const dc = { prefill: [], full: [] }
decode(o.seq - o.promptLength, 0)
decode(1, 0)
for (let r = 0; r < o.rounds; r++) {
  d.prefill.push(time(() => decode(1, r + 1), dc.prefill))
  d.full.push(time(() => decode(o.seq - o.promptLength, r + 1), dc.full))
}
tf.dispose([x, y])
AdamW.dispose(state)
policy.dispose()

const m = (xs) => median(xs)
const res = {
  blas: o.blas,
  train: trainInfo.describe().split(" | ").slice(0, 2).join(" | "),
  decode: decodeInfo.describe().split(" | ")[1],
  trainMs: m(t.step),
  forwardMs: m(t.forward),
  backwardMs: m(t.fwdBwd) - m(t.forward),
  optimizerMs: m(t.optimizer),
  decodeMs: m(d.full),
  prefillMs: m(d.prefill),
  decodeStepsMs: m(d.full) - m(d.prefill),
  decodeTokS: (o.decodeBatch * (o.seq - o.promptLength) * 1000) / m(d.full),
  cpuMs: {
    train: m(c.step),
    forward: m(c.forward),
    backward: m(c.fwdBwd) - m(c.forward),
    optimizer: m(c.optimizer),
    decode: m(dc.full),
    prefill: m(dc.prefill),
    decodeSteps: m(dc.full) - m(dc.prefill)
  }
}
if (o.json) console.log(JSON.stringify(res))
else {
  const f = (v) => v.toFixed(1)
  console.log(`duet ${res.train}; decode ${res.decode}; median of ${o.rounds}`)
  console.log(`  train step ${f(res.trainMs)} ms: forward ${f(res.forwardMs)}, backward ${f(res.backwardMs)}, clip+AdamW ${f(res.optimizerMs)}`)
  console.log(`  decode ${f(res.decodeMs)} ms (${res.decodeTokS.toFixed(0)} tok/s): prefill+1 ${f(res.prefillMs)}, remaining ${o.seq - o.promptLength - 1} steps ${f(res.decodeStepsMs)}`)
  const cm = res.cpuMs
  console.log(`  CPU ms: train ${f(cm.train)} (forward ${f(cm.forward)}, backward ${f(cm.backward)}, clip+AdamW ${f(cm.optimizer)}); decode ${f(cm.decode)} (prefill+1 ${f(cm.prefill)}, steps ${f(cm.decodeSteps)})`)
}
