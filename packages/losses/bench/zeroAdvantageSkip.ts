/**
 * Bench: time saved by skipping zero-advantage rows (see src/ZeroAdvantageSkip.ts).
 *
 * A tiny MLP "policy" (previous token -> one-hot -> embedding -> ReLU hidden -> logits) computes the
 * token log-probs of a batch; one PPO-clip step (forward + backward) runs on the full batch and on
 * the kept rows with the full-batch normaliser, alternately, `reps` times each. Prints the medians,
 * their ratio (kept / full) and the max gradient difference (it must be float32 noise).
 *
 * Run: `npm run bench -w @duet/losses` (bundles this file with esbuild, then runs it on Node).
 * Options: `--backend cpu|wasm|both` (default both), `--reps N` (default 7).
 */
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-core/dist/register_all_gradients"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import { Rng } from "@duet/core"
import { Normaliser, PpoClip, ZeroAdvantageSkip } from "../src/index.js"

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const backends = arg("backend", "both") === "both" ? ["cpu", "wasm"] : [arg("backend", "cpu")]
const reps = Number(arg("reps", "7"))

// Shapes: B rows of T tokens, vocabulary V, embedding D, hidden H.
const B = 64
const T = 32
const V = 64
const D = 64
const H = 128

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const run = async (backend: string): Promise<void> => {
  await tf.setBackend(backend)
  await tf.ready()
  const rng = Rng.seeded(7)
  const normal = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal())
  const E = tf.variable(tf.tensor2d(normal(V * D, 0.5), [V, D]))
  const W1 = tf.variable(tf.tensor2d(normal(D * H, 1 / Math.sqrt(D)), [D, H]))
  const W2 = tf.variable(tf.tensor2d(normal(H * V, 1 / Math.sqrt(H)), [H, V]))
  const params = [E, W1, W2]

  /** Token log-probs (rows, T) of `targets` given the previous tokens `prev`, both row-major (rows T). */
  const policyLogp = (prev: Int32Array, targets: Int32Array, rows: number): tf.Tensor2D => {
    const x = tf.oneHot(tf.tensor1d(prev, "int32"), V) // (rows T, V)
    const h = tf.relu(tf.matMul(tf.matMul(x, E), W1)) // (rows T, H)
    const logits = tf.matMul(h, W2) // (rows T, V)
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(targets, "int32"), V)), -1) // (rows T,)
    return tf.reshape(picked, [rows, T]) as tf.Tensor2D
  }

  const tokens = Int32Array.from({ length: B * (T + 1) }, () => rng.int(V))
  const prev = new Int32Array(B * T)
  const targets = new Int32Array(B * T)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      prev[b * T + t] = tokens[b * (T + 1) + t]!
      targets[b * T + t] = tokens[b * (T + 1) + t + 1]!
    }
  }
  const lengths = Array.from({ length: B }, () => T / 4 + rng.int((3 * T) / 4 + 1))
  const maskValues = new Float32Array(B * T)
  lengths.forEach((n, b) => maskValues.fill(1, b * T, b * T + n))
  const oldLogp = tf.tidy(() => tf.add(policyLogp(prev, targets, B), tf.randomNormal([B, T], 0, 0.2, "float32", 3)) as tf.Tensor2D)
  const oldValues = oldLogp.dataSync()
  const loss = PpoClip.ppoClip({ metrics: false })

  const step = (rows: Int32Array, advantages: Float32Array, normaliser: Normaliser.Normaliser | undefined): tf.NamedTensorMap => {
    const k = rows.length
    // host-side selection of the kept rows (what the pipeline does before the forward pass)
    const p = new Int32Array(k * T)
    const y = new Int32Array(k * T)
    const o = new Float32Array(k * T)
    const m = new Float32Array(k * T)
    const a = new Float32Array(k)
    rows.forEach((r, i) => {
      p.set(prev.subarray(r * T, (r + 1) * T), i * T)
      y.set(targets.subarray(r * T, (r + 1) * T), i * T)
      o.set(oldValues.subarray(r * T, (r + 1) * T), i * T)
      m.set(maskValues.subarray(r * T, (r + 1) * T), i * T)
      a[i] = advantages[r]!
    })
    const { value, grads } = tf.variableGrads(
      () =>
        loss({
          logp: policyLogp(p, y, k),
          oldLogp: tf.tensor2d(o, [k, T]),
          advantages: tf.tensor1d(a),
          mask: tf.tensor2d(m, [k, T]),
          normaliser
        }).loss,
      params
    )
    value.dispose()
    return grads
  }

  for (const zeroFraction of [0.25, 0.5, 0.75]) {
    const order = rng.shuffle(Array.from({ length: B }, (_, i) => i))
    const advantages = new Float32Array(B)
    order.forEach((r, i) => {
      advantages[r] = i < Math.round(zeroFraction * B) ? 0 : i % 2 === 0 ? 0.70710578 : -0.70710578
    })
    const all = Int32Array.from({ length: B }, (_, i) => i)
    const plan = ZeroAdvantageSkip.plan(loss, advantages, lengths, T)
    // correctness check, then warm-up
    const g1 = step(all, advantages, undefined)
    const g2 = step(plan.kept, advantages, plan.normaliser)
    let maxDiff = 0
    let maxAbs = 0
    for (const v of params) {
      const d1 = g1[v.name]!.dataSync()
      const d2 = g2[v.name]!.dataSync()
      for (let i = 0; i < d1.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(d1[i]! - d2[i]!))
        maxAbs = Math.max(maxAbs, Math.abs(d1[i]!))
      }
    }
    tf.dispose([g1, g2])
    const full: number[] = []
    const kept: number[] = []
    for (let r = 0; r < reps; r++) {
      for (const [rows, norm, into] of [
        [all, undefined, full],
        [plan.kept, plan.normaliser, kept]
      ] as const) {
        const t0 = performance.now()
        const g = step(rows, advantages, norm)
        for (const v of params) g[v.name]!.dataSync() // wait for the backend
        into.push(performance.now() - t0)
        tf.dispose(g)
      }
    }
    const ratio = median(kept) / median(full)
    console.log(
      `${backend.padEnd(5)} zero rows ${(zeroFraction * 100).toFixed(0).padStart(3)}%  full ${median(full).toFixed(1).padStart(7)} ms  ` +
        `kept ${median(kept).toFixed(1).padStart(7)} ms  ratio kept/full ${ratio.toFixed(3)}  saved ${((1 - ratio) * 100).toFixed(1)}%  ` +
        `max |grad diff| ${maxDiff.toExponential(1)} (max |grad| ${maxAbs.toExponential(1)})`
    )
  }
  tf.dispose([oldLogp, ...params])
}

console.log(`zero-advantage skipping, PPO-clip token-mean step (forward + backward), B=${B} T=${T} V=${V} D=${D} H=${H}, median of ${reps}`)
const main = async () => {
  for (const backend of backends) await run(backend)
}
main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
