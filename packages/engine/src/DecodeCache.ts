/**
 * A preallocated key/value cache for batched decoding with fused one-token attention. Same
 * interface as @duet/model's `KvCache` (`prefill`, `attend` on any subset of rows, `dispose`), so
 * the model's in-place cache can be swapped for this one.
 *
 * Keys and values live in Float32Arrays (layers x (B, H, capacity, hd)) written in place; one
 * `attend` stores each row's k, v at `position` and returns, per row and head,
 *   out = softmax(scale * q K[0..position]^T) V[0..position]   (Vaswani et al. 2017, eq. 1),
 * reading q, k, v straight from the wasm heap and writing the output tensor there: natively
 * (OpenBLAS addon present), with duet's wasm SIMD kernels (then K/V live in the wasm memory too,
 * allocated at `make` and freed by `dispose`), or in JS. On other backends it reads with dataSync.
 */
import * as tf from "@tensorflow/tfjs"
import type { Tensor, Tensor2D, Tensor4D } from "@tensorflow/tfjs"
import { InvalidArgumentError } from "@duet/core"
import { activeAddon } from "./internal/Installer.js"
import type { WasmAddon } from "./internal/WasmKernels.js"
import { assertWasmInternals, heapF32, offsetOf, type WasmBackend } from "./internal/WasmBackend.js"

export interface DecodeCacheOptions {
  readonly layers: number
  /** Rows the cache holds. */
  readonly batch: number
  readonly heads: number
  readonly headDim: number
  /** Positions per row. */
  readonly capacity: number
  /**
   * Multiplies q K^T (default 1: q arrives already scaled by 1/sqrt(hd), as @duet/model does;
   * pass 1/sqrt(headDim) for unscaled q).
   */
  readonly scale?: number
}

export interface DecodeCache {
  readonly kind: "inPlace"
  readonly batch: number
  readonly capacity: number
  readonly rowSubsets: true
  /**
   * "native" (addon), "wasm" (duet's wasm SIMD kernels, K/V in the wasm memory), "js-heap" (JS
   * loops on the wasm heap) or "js-copy" (other backends).
   */
  readonly path: "native" | "wasm" | "js-heap" | "js-copy"
  /** Stores positions 0..T-1 of every row from a prefill's k, v: (B, H, T, hd). */
  prefill(layer: number, k: Tensor4D, v: Tensor4D): void
  /** Stores k, v (N, C) of `rows` at `position`; returns the attention output (N, C) for q (N, C). */
  attend(layer: number, q: Tensor2D, k: Tensor2D, v: Tensor2D, rows: Int32Array, position: number): Tensor2D
  dispose(): void
}

const positiveInt = (field: string, x: number): void => {
  if (!Number.isInteger(x) || x < 1) throw new InvalidArgumentError(`DecodeCache.${field}`, `must be a positive integer, got ${x}`)
}

/** The attention loops in JS; `src` holds q, k, v at the given offsets, `dst` receives out. */
const attendJs = (
  src: Float32Array,
  qo: number,
  ko: number,
  vo: number,
  dst: Float32Array,
  oo: number,
  rows: Int32Array,
  position: number,
  K: Float32Array,
  V: Float32Array,
  H: number,
  cap: number,
  hd: number,
  scale: number,
  scores: Float64Array
): void => {
  const C = H * hd
  const q = new Float64Array(hd)
  const acc = new Float64Array(hd)
  for (let i = 0; i < rows.length; i++) {
    const b = rows[i]!
    for (let h = 0; h < H; h++) {
      const base = (b * H + h) * cap * hd
      const at = i * C + h * hd
      K.set(src.subarray(ko + at, ko + at + hd), base + position * hd)
      V.set(src.subarray(vo + at, vo + at + hd), base + position * hd)
      for (let d = 0; d < hd; d++) q[d] = src[qo + at + d]! * scale
      let mx = -Infinity
      for (let t = 0, kt = base; t <= position; t++, kt += hd) {
        let s = 0
        for (let d = 0; d < hd; d++) s += q[d]! * K[kt + d]!
        scores[t] = s
        if (s > mx) mx = s
      }
      let total = 0
      for (let t = 0; t <= position; t++) {
        const e = Math.exp(scores[t]! - mx)
        scores[t] = e
        total += e
      }
      acc.fill(0)
      for (let t = 0, vt = base; t <= position; t++, vt += hd) {
        const p = scores[t]!
        for (let d = 0; d < hd; d++) acc[d]! += p * V[vt + d]!
      }
      const inv = 1 / total
      for (let d = 0; d < hd; d++) dst[oo + at + d] = acc[d]! * inv
    }
  }
}

/**
 * K/V arrays of disposed caches, by length, for the next cache of the same shape. A sampler makes a
 * cache per call; fresh multi-megabyte arrays cost a page fault per 4 kB on first write (~15 us
 * each on these VMs: 20-30 ms per layer at 512 rows), so they are reused. Nothing is read before it
 * is written (prefill and each step write a position before attention reads it), so no clearing.
 */
const spare = new Map<number, Float32Array[]>()
const spareLimitBytes = 256 * 1024 * 1024
let spareBytes = 0
const takeArray = (size: number): Float32Array => {
  const got = spare.get(size)?.pop()
  if (got === undefined) return new Float32Array(size)
  spareBytes -= got.byteLength
  return got
}
const giveBack = (arrays: Float32Array[]): void => {
  for (const a of arrays) {
    if (spareBytes + a.byteLength > spareLimitBytes) return
    const list = spare.get(a.length) ?? []
    list.push(a)
    spare.set(a.length, list)
    spareBytes += a.byteLength
  }
}

export const make = (options: DecodeCacheOptions): DecodeCache => {
  const { layers, batch, heads: H, headDim: hd, capacity } = options
  positiveInt("layers", layers)
  positiveInt("batch", batch)
  positiveInt("heads", H)
  positiveInt("headDim", hd)
  positiveInt("capacity", capacity)
  const scale = options.scale ?? 1
  if (!Number.isFinite(scale)) throw new InvalidArgumentError("DecodeCache.scale", `must be finite, got ${scale}`)
  const C = H * hd
  const size = batch * H * capacity * hd
  const wasm = (): WasmBackend | undefined => (tf.getBackend() === "wasm" ? assertWasmInternals(tf.backend()) : undefined)
  // With duet's wasm SIMD kernels active, K/V live in the wasm memory (the kernel reads them there);
  // the views below are re-made on every use, since memory growth replaces the buffer.
  const made = activeAddon()
  const wasmKernels = wasm() !== undefined && made?.kind === "wasm-simd" ? (made as unknown as WasmAddon) : undefined
  const be0 = wasmKernels === undefined ? undefined : wasm()!
  let heapOffsets: { k: number[]; v: number[] } | undefined
  if (wasmKernels !== undefined) {
    heapOffsets = { k: [], v: [] }
    for (let l = 0; l < layers; l++) {
      heapOffsets.k.push(wasmKernels.alloc(size))
      heapOffsets.v.push(wasmKernels.alloc(size))
    }
  }
  let jsKeys: Float32Array[] = heapOffsets ? [] : Array.from({ length: layers }, () => takeArray(size))
  let jsValues: Float32Array[] = heapOffsets ? [] : Array.from({ length: layers }, () => takeArray(size))
  const store = (which: "k" | "v", layer: number): Float32Array =>
    heapOffsets ? new Float32Array(heapF32(be0!).buffer, heapOffsets[which][layer]! * 4, size) : (which === "k" ? jsKeys : jsValues)[layer]!
  let scores = new Float64Array(capacity)

  const path = (): DecodeCache["path"] =>
    wasm() === undefined ? "js-copy" : heapOffsets ? "wasm" : activeAddon()?.decodeAttention !== undefined ? "native" : "js-heap"
  const layerOf = (layer: number): void => {
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new InvalidArgumentError("DecodeCache.layer", `must be in [0, ${layers}), got ${layer}`)
  }

  return {
    kind: "inPlace",
    batch,
    capacity,
    rowSubsets: true,
    get path() {
      return path()
    },
    prefill(layer, k, v) {
      layerOf(layer)
      const [B, Hk, T, D] = k.shape
      if (B !== batch || Hk !== H || D !== hd || T > capacity || v.shape.join(",") !== k.shape.join(",")) {
        throw new InvalidArgumentError("DecodeCache.prefill", `k [${k.shape}], v [${v.shape}] do not fit the cache (${batch}, ${H}, <=${capacity}, ${hd})`)
      }
      // On wasm, read k and v where they lie in the heap (no copy); elsewhere through dataSync.
      const be = wasm()
      const inHeap = be !== undefined && [k, v].every((t) => t.dtype === "float32" && be.dataIdMap.has(t.dataId))
      const n = B * H * T * hd
      const kd = inHeap ? heapF32(be).subarray(offsetOf(be, k), offsetOf(be, k) + n) : (k.dataSync() as Float32Array)
      const vd = inHeap ? heapF32(be).subarray(offsetOf(be, v), offsetOf(be, v) + n) : (v.dataSync() as Float32Array)
      const [K, V] = [store("k", layer), store("v", layer)] // after reading (no allocation below)
      for (let bh = 0; bh < B * H; bh++) {
        K.set(kd.subarray(bh * T * hd, (bh + 1) * T * hd), bh * capacity * hd)
        V.set(vd.subarray(bh * T * hd, (bh + 1) * T * hd), bh * capacity * hd)
      }
    },
    attend(layer, q, k, v, rows, position) {
      layerOf(layer)
      if (!Number.isInteger(position) || position < 0 || position >= capacity) {
        throw new InvalidArgumentError("DecodeCache.position", `must be in [0, ${capacity}), got ${position}`)
      }
      const N = rows.length
      for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) {
        if (t.shape[0] !== N || t.shape[1] !== C) throw new InvalidArgumentError(`DecodeCache.attend.${name}`, `shape [${t.shape}] must be [${N}, ${C}]`)
      }
      for (let i = 0; i < N; i++) {
        const b = rows[i]!
        if (!Number.isInteger(b) || b < 0 || b >= batch) throw new InvalidArgumentError(`DecodeCache.attend.rows[${i}]`, `must be in [0, ${batch}), got ${b}`)
      }
      if (scores.length < position + 1) scores = new Float64Array(position + 1)
      const be = wasm()
      const ts: Tensor[] = [q, k, v]
      if (be !== undefined && ts.every((t) => t.dtype === "float32" && be.dataIdMap.has(t.dataId))) {
        const out = be.makeOutput([N, C], "float32")
        const [qo, ko, vo, oo] = [offsetOf(be, q), offsetOf(be, k), offsetOf(be, v), offsetOf(be, out)]
        if (N > 0) {
          const addon = activeAddon()
          if (heapOffsets && be === be0) {
            wasmKernels!.decodeAttentionHeap(qo, ko, vo, oo, rows, position, heapOffsets.k[layer]!, heapOffsets.v[layer]!, H, capacity, hd, scale)
          } else if (addon?.decodeAttention !== undefined && !heapOffsets) {
            addon.decodeAttention(heapF32(be).buffer as ArrayBuffer, qo, ko, vo, oo, rows, position, jsKeys[layer]!, jsValues[layer]!, batch, H, capacity, hd, scale)
          } else {
            const h = heapF32(be)
            attendJs(h, qo, ko, vo, h, oo, rows, position, store("k", layer), store("v", layer), H, capacity, hd, scale, scores)
          }
        }
        return tf.engine().makeTensorFromTensorInfo(out) as Tensor2D
      }
      const qd = q.dataSync()
      const src = new Float32Array(3 * N * C)
      src.set(qd, 0)
      src.set(k.dataSync(), N * C)
      src.set(v.dataSync(), 2 * N * C)
      const dst = new Float32Array(N * C)
      attendJs(src, 0, N * C, 2 * N * C, dst, 0, rows, position, store("k", layer), store("v", layer), H, capacity, hd, scale, scores)
      return tf.tensor2d(dst, [N, C])
    },
    dispose() {
      if (heapOffsets) for (const off of [...heapOffsets.k, ...heapOffsets.v]) wasmKernels!.free(off)
      heapOffsets = undefined
      giveBack([...jsKeys, ...jsValues])
      jsKeys = []
      jsValues = []
    }
  }
}
