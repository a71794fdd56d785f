/**
 * Key/value caches for decoding, one per sampling call. A decode step hands each layer's new
 * q, k, v (rows, C) — heads side by side, `C = H * hd` — to `attend`, which stores k, v at
 * `position` and returns softmax(q k^T / sqrt(hd)) v over positions 0..position (Vaswani et al. 2017,
 * eq. 1; q arrives already scaled by 1/sqrt(hd) from the model).
 *
 * - `inPlace`: preallocated Float32Arrays (B, H, capacity, hd) written in place, attention for the
 *   single new query computed straight from them. No copy of the cache per step, and any subset
 *   of rows can step (finished rows drop out of the batch). This is the seam a fused engine kernel
 *   replaces.
 * - `concat`: the plain-tfjs way, growing (B, H, t, hd) tensors by `tf.concat` and attending with
 *   batched matmuls; every row steps every time. Kept as the stock-tfjs baseline for benchmarks.
 */
import { InvalidArgumentError } from "@duet/core"
import { tf } from "./internal/Tfjs.js"
import type { GptConfig } from "./Gpt.js"

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

const checkShape = (config: GptConfig, batch: number, capacity: number): void => {
  if (!Number.isInteger(batch) || batch < 1) throw new InvalidArgumentError("KvCache.batch", `must be a positive integer, got ${batch}`)
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.blockSize) {
    throw new InvalidArgumentError("KvCache.capacity", `must be an integer in [1, blockSize=${config.blockSize}], got ${capacity}`)
  }
}

/** A preallocated cache written in place; attention over it runs in JS on the CPU side. */
export const inPlace = (config: GptConfig, batch: number, capacity: number): KvCache => {
  checkShape(config, batch, capacity)
  const H = config.nHead
  const C = config.nEmbd
  const hd = C / H
  const size = batch * H * capacity * hd
  const keys = Array.from({ length: config.nLayer }, () => new Float32Array(size)) // (B, H, cap, hd)
  const values = Array.from({ length: config.nLayer }, () => new Float32Array(size))
  let scores = new Float64Array(capacity)
  const acc = new Float64Array(hd)
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
      const Vc = values[layer]!
      for (let bh = 0; bh < B * H; bh++) {
        K.set(kd.subarray(bh * T * hd, (bh + 1) * T * hd), bh * capacity * hd)
        Vc.set(vd.subarray(bh * T * hd, (bh + 1) * T * hd), bh * capacity * hd)
      }
    },
    attend(layer, q, k, v, rows, position) {
      if (position >= capacity) throw new InvalidArgumentError("KvCache.attend", `position ${position} >= capacity ${capacity}`)
      const N = rows.length
      const qd = q.dataSync() // (N, C)
      const kd = k.dataSync()
      const vd = v.dataSync()
      const K = keys[layer]!
      const Vc = values[layer]!
      const out = new Float32Array(N * C)
      if (scores.length < position + 1) scores = new Float64Array(position + 1)
      for (let i = 0; i < N; i++) {
        const b = rows[i]!
        for (let h = 0; h < H; h++) {
          const src = i * C + h * hd // this row's head h in (N, C)
          const base = (b * H + h) * capacity * hd // (b, h, 0, 0) in the cache
          const at = base + position * hd
          for (let d = 0; d < hd; d++) {
            K[at + d] = kd[src + d]!
            Vc[at + d] = vd[src + d]!
          }
          let max = -Infinity
          for (let s = 0; s <= position; s++) {
            let dot = 0
            const o = base + s * hd
            for (let d = 0; d < hd; d++) dot += qd[src + d]! * K[o + d]!
            scores[s] = dot
            if (dot > max) max = dot
          }
          let total = 0
          for (let s = 0; s <= position; s++) {
            const e = Math.exp(scores[s]! - max)
            scores[s] = e
            total += e
          }
          acc.fill(0)
          for (let s = 0; s <= position; s++) {
            const w = scores[s]! / total
            const o = base + s * hd
            for (let d = 0; d < hd; d++) acc[d]! += w * Vc[o + d]!
          }
          for (let d = 0; d < hd; d++) out[src + d] = acc[d]!
        }
      }
      return tf.tensor2d(out, [N, C])
    },
    dispose() {}
  }
}

/** The plain-tfjs cache: tensors grown with `tf.concat`, attention by batched matmul. */
export const concat = (config: GptConfig, batch: number, capacity: number): KvCache => {
  checkShape(config, batch, capacity)
  const H = config.nHead
  const hd = config.nEmbd / H
  const keys: Array<tf.Tensor4D | undefined> = Array.from({ length: config.nLayer }, () => undefined)
  const values: Array<tf.Tensor4D | undefined> = Array.from({ length: config.nLayer }, () => undefined)
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
