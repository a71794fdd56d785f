/**
 * duet's wasm SIMD kernels (native/duet_wasm.c, shipped prebuilt in WasmKernelsBinary.ts): the
 * path a machine without the OpenBLAS addon runs. The module imports tfjs-backend-wasm's own
 * `WebAssembly.Memory`, so it works on tensors in place (zero copy) and exposes the addon's
 * interface (`NativeAddon`): the engine's OpenBLAS-path kernels (BatchMatMul with transposes as
 * flags, folded batches, leading-axis Sum, fused GELU / LayerNorm / softmax gradient, fused AdamW)
 * run on it unchanged. Single-threaded (Node gives tfjs-wasm no threads); deterministic: every
 * output's summation order depends only on the shapes.
 *
 * Decode attention takes its K/V cache in the wasm memory (`alloc`, `decodeAttentionHeap`), not in
 * JS arrays as the addon's `decodeAttention` does (absent here); DecodeCache allocates it there.
 */
import type { NativeAddon } from "./NativeAddon.js"
import { base64 } from "./WasmKernelsBinary.js"
import type { WasmBackend } from "./WasmBackend.js"

interface Exports {
  sgemm_scratch(): number
  sgemm(...args: number[]): void
  sgemm_offsets(...args: number[]): void
  gelu(x: number, y: number, n: number, form: number): void
  gelu_grad(dy: number, x: number, dx: number, n: number, form: number): void
  layer_norm(x: number, g: number, b: number, y: number, rows: number, cols: number, eps: number): void
  layer_norm_grad(dy: number, x: number, g: number, dx: number, dg: number, db: number, rows: number, cols: number, eps: number, scratch: number): void
  sum_rows(x: number, out: number, outer: number, mid: number, inner: number, i0: number, w: number, acc: number): void
  sum_squares(x: number, n: number): number
  adam_w(...args: number[]): void
  segment_sum(x: number, ids: number, out: number, n: number, inner: number, segs: number): void
  softmax_grad(dy: number, y: number, dx: number, rows: number, cols: number): void
  decode_attention(...args: number[]): void
}

/** The few WebAssembly JS-API members used (this package's TS lib has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
}
interface WasmApi {
  Memory: new (...args: never[]) => WasmMemory
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

interface EmscriptenParts {
  asm?: { memory?: unknown }
  _malloc?: (bytes: number) => number
  _free?: (ptr: number) => void
}

/** The addon interface, with decode attention over a cache in the wasm memory instead. */
export type WasmAddon = Omit<NativeAddon, "decodeAttention"> & {
  readonly kind: "wasm-simd"
  /** `floats` zeroed float32s in the wasm memory (tfjs's allocator); returns their float offset. */
  alloc(floats: number): number
  free(offset: number): void
  /** DecodeCache's attention step with K/V caches at float offsets kOff, vOff: (batch, H, cap, hd). */
  decodeAttentionHeap(
    qOff: number,
    kOff: number,
    vOff: number,
    outOff: number,
    rows: Int32Array,
    position: number,
    kCacheOff: number,
    vCacheOff: number,
    heads: number,
    capacity: number,
    headDim: number,
    scale: number
  ): void
}

export type WasmKernelsLoad = { readonly ok: true; readonly addon: WasmAddon } | { readonly ok: false; readonly reason: string }

const loaded = new WeakMap<object, WasmKernelsLoad>()

/** Scratch for the kernels: the GEMM's packed blocks, LayerNorm-grad and Sum accumulators. */
const scratchFloats = (gemm: number): number => Math.max(gemm, 1 << 16)

/** Instantiates the kernels on `backend`'s memory (once per backend); never throws. */
export const loadWasmKernels = (backend: WasmBackend): WasmKernelsLoad => {
  const hit = loaded.get(backend)
  if (hit !== undefined) return hit
  const result = instantiate(backend)
  loaded.set(backend, result)
  return result
}

const instantiate = (backend: WasmBackend): WasmKernelsLoad => {
  const em = backend.wasm as unknown as EmscriptenParts
  const memory = em.asm?.memory
  if (!(memory instanceof WA.Memory) || typeof em._malloc !== "function") {
    return { ok: false, reason: "tfjs-backend-wasm does not expose its WebAssembly.Memory (Module.asm.memory) and _malloc" }
  }
  let x: Exports
  try {
    const bytes = Buffer.from(base64, "base64")
    const instance = new WA.Instance(new WA.Module(bytes), { env: { memory } })
    x = instance.exports as unknown as Exports
  } catch (e) {
    return { ok: false, reason: `duet's wasm SIMD kernels failed to load (${e instanceof Error ? e.message : String(e)}); does this Node support wasm SIMD?` }
  }
  const floats = scratchFloats(x.sgemm_scratch())
  const scratch = em._malloc(floats * 4) // allocated once, never freed: lives as long as the backend
  if (scratch === 0) return { ok: false, reason: "could not allocate the wasm kernels' scratch memory" }
  const B = (off: number) => off * 4 // float offsets -> byte addresses
  let offs = { ptr: 0, n: 0 }
  const offsetBuffer = (n: number): number => {
    if (n > offs.n) {
      if (offs.ptr !== 0) em._free!(offs.ptr)
      const cap = Math.max(n, 1024)
      offs = { ptr: em._malloc!(cap * 4), n: cap }
    }
    return offs.ptr
  }
  const addon: WasmAddon = {
    kind: "wasm-simd",
    alloc(n) {
      const p = em._malloc!(Math.max(1, n) * 4)
      if (p === 0) throw new RangeError(`@duet/engine: could not allocate ${n} floats in the wasm memory`)
      new Float32Array(memory.buffer, p, n).fill(0)
      return p >>> 2
    },
    free: (off) => em._free!(off * 4),
    decodeAttentionHeap(qo, ko, vo, oo, rows, position, kc, vc, H, cap, hd, scale) {
      if (position + 1 > floats) throw new RangeError(`@duet/engine: decode position ${position} exceeds the wasm kernels' scratch`)
      const p = offsetBuffer(rows.length) // may grow the heap: float offsets are unaffected
      new Int32Array(memory.buffer, p, rows.length).set(rows)
      x.decode_attention(B(qo), B(ko), B(vo), B(oo), p, rows.length, position, B(kc), B(vc), H, cap, hd, scale, scratch)
    },
    sgemm(_heap, ta, tb, M, N, K, alpha, beta, batch, aOff, aStride, lda, bOff, bStride, ldb, cOff, cStride, ldc) {
      x.sgemm(ta ? 1 : 0, tb ? 1 : 0, M, N, K, alpha, beta, batch, B(aOff), aStride, lda, B(bOff), bStride, ldb, B(cOff), cStride, ldc, scratch)
    },
    sgemmOffsets(_heap, ta, tb, M, N, K, alpha, beta, aOffs, lda, bOffs, ldb, cOffs, ldc) {
      const n = aOffs.length
      const p = offsetBuffer(3 * n) // may grow the heap: offsets below are in floats, unaffected
      const view = new Int32Array(memory.buffer, p, 3 * n)
      view.set(aOffs, 0)
      view.set(bOffs, n)
      view.set(cOffs, 2 * n)
      x.sgemm_offsets(ta ? 1 : 0, tb ? 1 : 0, M, N, K, alpha, beta, n, 0, p, lda, ldb, ldc, scratch)
    },
    gelu: (_h, xo, yo, n, form) => x.gelu(B(xo), B(yo), n, form),
    geluGrad: (_h, dyo, xo, dxo, n, form) => x.gelu_grad(B(dyo), B(xo), B(dxo), n, form),
    layerNorm: (_h, xo, go, bo, yo, rows, cols, eps) => x.layer_norm(B(xo), B(go), bo >= 0 ? B(bo) : 0, B(yo), rows, cols, eps),
    layerNormGrad(_h, dyo, xo, go, dxo, dgo, dbo, rows, cols, eps) {
      // dgamma, dbeta accumulators (2 x cols doubles) and x-hat (cols floats): 20 cols bytes
      if (cols * 5 > floats) throw new RangeError(`@duet/engine: LayerNorm over ${cols} columns exceeds the wasm kernels' scratch`)
      x.layer_norm_grad(B(dyo), B(xo), B(go), B(dxo), B(dgo), B(dbo), rows, cols, eps, scratch)
    },
    sumRows(_h, xo, oo, outer, mid, inner) {
      const w = floats >> 1 // doubles that fit the scratch; columns are independent, so chunk them
      for (let i0 = 0; i0 < inner; i0 += w) x.sum_rows(B(xo), B(oo), outer, mid, inner, i0, Math.min(w, inner - i0), scratch)
    },
    sumSquares(_h, offsets, sizes) {
      let total = 0
      for (let k = 0; k < offsets.length; k++) total += x.sum_squares(B(offsets[k]!), sizes[k]!)
      return total
    },
    adamW: (_h, n, go, po, mo, vo, pt, mt, vt, scale, b1, b2, keep, step, bc2, eps) =>
      x.adam_w(n, B(go), B(po), B(mo), B(vo), B(pt), B(mt), B(vt), scale, b1, b2, keep, step, bc2, eps),
    segmentSum: (_h, xo, io, oo, n, inner, segs) => x.segment_sum(B(xo), B(io), B(oo), n, inner, segs),
    softmaxGrad: (_h, dyo, yo, dxo, rows, cols) => x.softmax_grad(B(dyo), B(yo), B(dxo), rows, cols),
    setThreads() {},
    threads: () => 1,
    config: () => "duet wasm SIMD kernels (4x8 f32x4 GEMM micro-kernel, prebuilt from native/duet_wasm.c)"
  }
  return { ok: true, addon }
}
