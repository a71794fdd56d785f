/**
 * Key/value caches for decoding, one per sampling call. A decode step hands each layer's new
 * q, k, v (rows, C) — heads side by side, `C = H * hd` — to `attend`, which stores k, v at
 * `position` and returns softmax(q k^T / sqrt(hd)) v over positions 0..position (Vaswani et al. 2017,
 * eq. 1; q arrives already scaled by 1/sqrt(hd) from the model).
 *
 * - `inPlace`: preallocated (B, H, capacity, hd) keys and values written in place, attention for
 *   the single new query computed straight from them: no copy of the cache per step, and any subset
 *   of rows can step (finished rows drop out of the batch). The engine's fused cache (`inPlace`),
 *   or this package's JS one with a pluggable kernel (`inPlaceJs`).
 * - `concat`: the plain-tfjs way, growing (B, H, t, hd) tensors by `tf.concat` and attending with
 *   batched matmuls; every row steps every time. Kept as the stock-tfjs baseline for benchmarks.
 */
import { InvalidArgumentError } from "@duet/core"
import { DecodeCache } from "@duet/engine"
import { tf } from "./internal/Tfjs.js"
import type { GptConfig } from "./Gpt.js"

/**
 * What a cache must hold: `layers` x (batch, heads, capacity, headDim). `heads` counts query heads:
 * a grouped-query model repeats its key/value heads before the cache (see Llama.ts).
 */
export interface KvLayout {
  readonly layers: number
  readonly heads: number
  readonly headDim: number
  /** The model's context length: the largest capacity a cache may have. */
  readonly blockSize: number
}

/** A GPT config's cache layout (heads of width nEmbd / nHead). */
const layoutOf = (c: KvLayout | GptConfig): KvLayout =>
  "nLayer" in c ? { layers: c.nLayer, heads: c.nHead, headDim: c.nEmbd / c.nHead, blockSize: c.blockSize } : c

export interface KvCache {
  readonly kind: "inPlace" | "concat"
  /** Rows the cache was made for. */
  readonly batch: number
  /** Positions it can hold. */
  readonly capacity: number
  /** True when `attend` accepts any subset of rows; false when every row must step together. */
  readonly rowSubsets: boolean
  /** Stores positions 0..T-1 of every row from a prefill's k, v: (B, H, T, hd). */
  prefill(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): void
  /** Stores k, v (N, C) of `rows` at `position`; returns attention output (N, C) for q (N, C). */
  attend(layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, rows: Int32Array, position: number): tf.Tensor2D
  dispose(): void
}

const checkShape = (config: KvLayout, batch: number, capacity: number): void => {
  if (!Number.isInteger(batch) || batch < 1) throw new InvalidArgumentError("KvCache.batch", `must be a positive integer, got ${batch}`)
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.blockSize) {
    throw new InvalidArgumentError("KvCache.capacity", `must be an integer in [1, blockSize=${config.blockSize}], got ${capacity}`)
  }
}

/**
 * softmax(q . K[s]) weighted sum of V[s] over s < n for one (row, head): K, V hold the n keys and
 * values from `base`, hd apart; the result goes to `acc` (hd). Four positions per pass share each
 * load of q (about 1.4x faster in V8 than one at a time).
 */
const attendOne = (
  q: Float64Array,
  K: Float32Array,
  V: Float32Array,
  base: number,
  n: number,
  hd: number,
  scores: Float64Array,
  acc: Float64Array
): void => {
  let max = -Infinity
  let s = 0
  for (; s + 4 <= n; s += 4) {
    const o = base + s * hd
    let d0 = 0
    let d1 = 0
    let d2 = 0
    let d3 = 0
    for (let d = 0; d < hd; d++) {
      const x = q[d]!
      d0 += x * K[o + d]!
      d1 += x * K[o + hd + d]!
      d2 += x * K[o + 2 * hd + d]!
      d3 += x * K[o + 3 * hd + d]!
    }
    scores[s] = d0
    scores[s + 1] = d1
    scores[s + 2] = d2
    scores[s + 3] = d3
    max = Math.max(max, d0, d1, d2, d3)
  }
  for (; s < n; s++) {
    const o = base + s * hd
    let dot = 0
    for (let d = 0; d < hd; d++) dot += q[d]! * K[o + d]!
    scores[s] = dot
    if (dot > max) max = dot
  }
  let total = 0
  for (s = 0; s < n; s++) {
    const e = Math.exp(scores[s]! - max)
    scores[s] = e
    total += e
  }
  acc.fill(0)
  for (s = 0; s + 4 <= n; s += 4) {
    const o = base + s * hd
    const w0 = scores[s]!
    const w1 = scores[s + 1]!
    const w2 = scores[s + 2]!
    const w3 = scores[s + 3]!
    for (let d = 0; d < hd; d++) acc[d]! += w0 * V[o + d]! + w1 * V[o + hd + d]! + w2 * V[o + 2 * hd + d]! + w3 * V[o + 3 * hd + d]!
  }
  for (; s < n; s++) {
    const o = base + s * hd
    const w = scores[s]!
    for (let d = 0; d < hd; d++) acc[d]! += w * V[o + d]!
  }
  const inv = 1 / total
  for (let d = 0; d < hd; d++) acc[d]! *= inv
}

/**
 * A decode-attention kernel over an in-place cache: for each i, head h, writes to `out` (N, C) the
 * attention of `q` (N, C) row i over positions 0..position of cache row `rows[i]`. `keys` and
 * `values` are (B, H, capacity, hd), this position's k and v already stored. The JS default is
 * `jsDecodeAttention`; a native or wasm kernel with this signature can replace it.
 */
export type DecodeAttention = (args: {
  readonly q: Float32Array
  readonly keys: Float32Array
  readonly values: Float32Array
  readonly rows: Int32Array
  readonly position: number
  readonly heads: number
  readonly headDim: number
  readonly capacity: number
  readonly out: Float32Array
}) => void

/** The JS decode-attention kernel (float64 accumulation). */
export const jsDecodeAttention = (): DecodeAttention => {
  let scores = new Float64Array(0)
  let acc = new Float64Array(0)
  let qh = new Float64Array(0)
  return ({ q, keys, values, rows, position, heads: H, headDim: hd, capacity, out }) => {
    const C = H * hd
    if (scores.length < position + 1) scores = new Float64Array(position + 1)
    if (acc.length !== hd) {
      acc = new Float64Array(hd)
      qh = new Float64Array(hd)
    }
    for (let i = 0; i < rows.length; i++) {
      const b = rows[i]!
      for (let h = 0; h < H; h++) {
        const src = i * C + h * hd // row i's head h in (N, C)
        for (let d = 0; d < hd; d++) qh[d] = q[src + d]!
        attendOne(qh, keys, values, (b * H + h) * capacity * hd, position + 1, hd, scores, acc)
        for (let d = 0; d < hd; d++) out[src + d] = acc[d]!
      }
    }
  }
}

/**
 * The engine's preallocated cache with fused decode attention: reads q, k, v straight from the wasm
 * heap and runs natively when the OpenBLAS addon is built (JS loops otherwise; dataSync copies on
 * other backends). The default of `Sampler.sample`.
 */
export const inPlace = (layout: KvLayout | GptConfig, batch: number, capacity: number): KvCache => {
  const l = layoutOf(layout)
  checkShape(l, batch, capacity)
  return DecodeCache.make({ layers: l.layers, batch, heads: l.heads, headDim: l.headDim, capacity, scale: 1 })
}

/**
 * A preallocated cache written in place, with attention run through `attention` on Float32Arrays
 * (default `jsDecodeAttention()`); the reference for, and fallback of, `inPlace`.
 */
export const inPlaceJs = (layout: KvLayout | GptConfig, batch: number, capacity: number, attention: DecodeAttention = jsDecodeAttention()): KvCache => {
  const l = layoutOf(layout)
  checkShape(l, batch, capacity)
  const H = l.heads
  const hd = l.headDim
  const C = H * hd
  const size = batch * H * capacity * hd
  const keys = Array.from({ length: l.layers }, () => new Float32Array(size)) // (B, H, cap, hd)
  const values = Array.from({ length: l.layers }, () => new Float32Array(size))
  return {
    kind: "inPlace",
    batch,
    capacity,
    rowSubsets: true,
    prefill(layer, k, v) {
      const [B, Hk, T] = k.shape
      if (B !== batch || Hk !== H || T > capacity) throw new InvalidArgumentError("KvCache.prefill", `k shape [${k.shape}] does not fit cache (${batch}, ${H}, ${capacity}, ${hd})`)
      const kd = k.dataSync()
      const vd = v.dataSync()
      const K = keys[layer]!
      const V = values[layer]!
      for (let bh = 0; bh < B * H; bh++) {
        K.set(kd.subarray(bh * T * hd, (bh + 1) * T * hd), bh * capacity * hd)
        V.set(vd.subarray(bh * T * hd, (bh + 1) * T * hd), bh * capacity * hd)
      }
    },
    attend(layer, q, k, v, rows, position) {
      if (position >= capacity) throw new InvalidArgumentError("KvCache.attend", `position ${position} >= capacity ${capacity}`)
      const kd = k.dataSync() // (N, C)
      const vd = v.dataSync()
      const K = keys[layer]!
      const V = values[layer]!
      for (let i = 0; i < rows.length; i++) {
        for (let h = 0; h < H; h++) {
          const at = ((rows[i]! * H + h) * capacity + position) * hd // (b, h, position, 0)
          K.set(kd.subarray(i * C + h * hd, i * C + (h + 1) * hd), at)
          V.set(vd.subarray(i * C + h * hd, i * C + (h + 1) * hd), at)
        }
      }
      const out = new Float32Array(rows.length * C)
      attention({ q: q.dataSync() as Float32Array, keys: K, values: V, rows, position, heads: H, headDim: hd, capacity, out })
      return tf.tensor2d(out, [rows.length, C])
    },
    dispose() {}
  }
}

/** The plain-tfjs cache: tensors grown with `tf.concat`, attention by batched matmul. */
export const concat = (layout: KvLayout | GptConfig, batch: number, capacity: number): KvCache => {
  const l = layoutOf(layout)
  checkShape(l, batch, capacity)
  const H = l.heads
  const hd = l.headDim
  const keys: Array<tf.Tensor4D | undefined> = Array.from({ length: l.layers }, () => undefined)
  const values: Array<tf.Tensor4D | undefined> = Array.from({ length: l.layers }, () => undefined)
  const replace = (store: Array<tf.Tensor4D | undefined>, layer: number, t: tf.Tensor4D) => {
    store[layer]?.dispose()
    store[layer] = tf.keep(t)
  }
  return {
    kind: "concat",
    batch,
    capacity,
    rowSubsets: false,
    prefill(layer, k, v) {
      replace(keys, layer, tf.clone(k))
      replace(values, layer, tf.clone(v))
    },
    attend(layer, q, k, v, rows, position) {
      if (rows.length !== batch) throw new InvalidArgumentError("KvCache.attend", `the concat cache steps all ${batch} rows, got ${rows.length}`)
      if (position >= capacity) throw new InvalidArgumentError("KvCache.attend", `position ${position} >= capacity ${capacity}`)
      const heads = (t: tf.Tensor2D) => tf.transpose(tf.reshape(t, [batch, 1, H, hd]), [0, 2, 1, 3]) as tf.Tensor4D // (B, H, 1, hd)
      const grow = (store: Array<tf.Tensor4D | undefined>, t: tf.Tensor4D) => {
        const prev = store[layer]
        replace(store, layer, prev === undefined ? tf.clone(t) : (tf.concat([prev, t], 2) as tf.Tensor4D)) // (B, H, t+1, hd)
        return store[layer]!
      }
      const K = grow(keys, heads(k))
      const V = grow(values, heads(v))
      const att = tf.softmax(tf.matMul(heads(q), K, false, true)) // (B, H, 1, t+1)
      return tf.reshape(tf.transpose(tf.matMul(att, V), [0, 2, 1, 3]), [batch, H * hd]) // (B, C)
    },
    dispose() {
      for (const t of [...keys, ...values]) t?.dispose()
      keys.fill(undefined)
      values.fill(undefined)
    }
  }
}
