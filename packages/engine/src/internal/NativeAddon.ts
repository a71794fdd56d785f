/**
 * Loader for the optional native addons built by scripts/build-addon.mjs at install:
 * build/duet_native.node (duet's own GEMM, native/duet_gemm.h) and build/duet_blas.node (OpenBLAS's
 * sgemm); the same fused kernels in both. Loading never throws: a missing or broken addon yields
 * the reason, which the engine reports while it runs another path.
 */
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"

/** The addon's functions; offsets and strides are in float32 elements of `heap`. */
export interface NativeAddon {
  /** "wasm-simd" for duet's wasm kernels (WasmKernels.ts) behind this same interface; else the addon. */
  readonly kind?: "openblas" | "wasm-simd"
  /** C_i = alpha op(A_i) op(B_i) + beta C_i, i < batch, X_i at xOff + i * xStride (row-major). */
  sgemm(
    heap: ArrayBuffer,
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    beta: number,
    batch: number,
    aOff: number,
    aStride: number,
    lda: number,
    bOff: number,
    bStride: number,
    ldb: number,
    cOff: number,
    cStride: number,
    ldc: number
  ): void
  /** The same with one offset per batch entry (any broadcast of batch dims). */
  sgemmOffsets(
    heap: ArrayBuffer,
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    beta: number,
    aOffs: Int32Array,
    lda: number,
    bOffs: Int32Array,
    ldb: number,
    cOffs: Int32Array,
    ldc: number
  ): void
  /** y = gelu(x) over n elements; form 0: x sigmoid(1.702 x), form 1: tanh approximation. */
  gelu(heap: ArrayBuffer, xOff: number, yOff: number, n: number, form: number): void
  /** dx = dy * gelu'(x). */
  geluGrad(heap: ArrayBuffer, dyOff: number, xOff: number, dxOff: number, n: number, form: number): void
  /** LayerNorm over rows of length cols; betaOff -1 when there is no beta. */
  layerNorm(heap: ArrayBuffer, xOff: number, gammaOff: number, betaOff: number, yOff: number, rows: number, cols: number, eps: number): void
  /** dx, dgamma, dbeta of LayerNorm given dy. */
  layerNormGrad(
    heap: ArrayBuffer,
    dyOff: number,
    xOff: number,
    gammaOff: number,
    dxOff: number,
    dgammaOff: number,
    dbetaOff: number,
    rows: number,
    cols: number,
    eps: number
  ): void
  /**
   * One decode step of attention over a (batch, H, capacity, hd) KV cache; see DecodeCache. Absent
   * in the wasm SIMD kernels (the cache lives outside the wasm memory): DecodeCache's JS loop runs.
   */
  decodeAttention?(
    heap: ArrayBuffer,
    qOff: number,
    kOff: number,
    vOff: number,
    outOff: number,
    rows: Int32Array,
    position: number,
    kCache: Float32Array,
    vCache: Float32Array,
    batch: number,
    heads: number,
    capacity: number,
    headDim: number,
    scale: number
  ): void
  /**
   * Causal self-attention over packed sequences (rows starts[r]..starts[r+1]-1 of (N, heads*headDim)
   * q, k, v; q scaled already) into out; see native/duet_blas.cc. Absent in the wasm SIMD kernels.
   */
  packedAttention?(heap: ArrayBuffer, qOff: number, kOff: number, vOff: number, outOff: number, starts: Int32Array, heads: number, headDim: number): void
  /** dq, dk, dv of `packedAttention` given dy (p recomputed from q and k). */
  packedAttentionGrad?(
    heap: ArrayBuffer,
    dyOff: number,
    qOff: number,
    kOff: number,
    vOff: number,
    dqOff: number,
    dkOff: number,
    dvOff: number,
    starts: Int32Array,
    heads: number,
    headDim: number
  ): void
  /** out[o, i] = sum_m x[o, m, i] (float64 accumulation). */
  sumRows(heap: ArrayBuffer, xOff: number, outOff: number, outer: number, mid: number, inner: number): void
  /** c[r, j] += v[j] in place over a (rows, cols) c: a bias after its GEMM. Absent in the wasm SIMD kernels. */
  addRows?(heap: ArrayBuffer, cOff: number, vOff: number, rows: number, cols: number): void
  /** out = x with axes permuted (out axis i = x axis perm[i]), 4-byte elements. Absent in the wasm SIMD kernels. */
  transpose?(heap: ArrayBuffer, xOff: number, outOff: number, shape: Int32Array, perm: Int32Array): void
  /** float32 UnsortedSegmentSum of n rows of `inner` elements into numSegments rows. */
  segmentSum(heap: ArrayBuffer, xOff: number, idsOff: number, outOff: number, n: number, inner: number, numSegments: number): void
  /** dx = y (dy - sum(dy y)) per row of `cols`: the gradient of a last-axis softmax. */
  softmaxGrad(heap: ArrayBuffer, dyOff: number, yOff: number, dxOff: number, rows: number, cols: number): void
  /** Sum of squares over the given ranges, in float64. */
  sumSquares(heap: ArrayBuffer, offsets: Int32Array, sizes: Int32Array): number
  /** One AdamW update of n elements; see native/duet_blas.cc. */
  adamW(
    heap: ArrayBuffer,
    n: number,
    gOff: number,
    pOff: number,
    mOff: number,
    vOff: number,
    pOut: number,
    mOut: number,
    vOut: number,
    scale: number,
    beta1: number,
    beta2: number,
    keep: number,
    stepSize: number,
    bc2: number,
    eps: number
  ): void
  /**
   * Most threads for a GEMM. A GEMM (batch) with batch*M*N*K below smallFlops (default 2e6) runs on
   * one thread; a larger one is split into `threads` parts by its shape alone (batch entries, or
   * ranges of C's rows or columns), so the same shape is always split the same way. With duet's
   * own GEMM every C element is computed identically however it is split: results are
   * bit-identical for any thread count. OpenBLAS's kernels differ with the sub-block shape, so
   * there results are deterministic per thread count but not equal across counts.
   */
  setThreads(threads: number, smallFlops?: number): void
  threads(): number
  /**
   * `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen MAX_THREADS=64", or for the
   * native addon "duet-gemm AVX-512 (duet's own GEMM, ...)".
   */
  config(): string
}

export type AddonLoad = { readonly ok: true; readonly addon: NativeAddon } | { readonly ok: false; readonly reason: string }

/** The package root (this file runs from src/internal in tests and from dist/ when built). */
const packageRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pj = path.join(dir, "package.json")
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "@duet/engine") return dir
    const up = path.dirname(dir)
    if (up === dir) throw new Error("@duet/engine: package root not found")
    dir = up
  }
}

/** "native": duet's own GEMM (build/duet_native.node); "openblas": OpenBLAS's (build/duet_blas.node). */
export type AddonKind = "native" | "openblas"

const files: Record<AddonKind, string> = { native: "duet_native.node", openblas: "duet_blas.node" }
const cached = new Map<AddonKind, AddonLoad>()

/** Loads an addon once; later calls return the same result. */
export const loadAddon = (kind: AddonKind = "openblas"): AddonLoad => {
  const hit = cached.get(kind)
  if (hit !== undefined) return hit
  const result = load(kind)
  cached.set(kind, result)
  return result
}

const load = (kind: AddonKind): AddonLoad => {
  let addonPath: string, statusPath: string
  try {
    const root = packageRoot()
    addonPath = path.join(root, "build", files[kind])
    statusPath = path.join(root, "build", "addon-status.json")
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) }
  }
  if (!existsSync(addonPath)) {
    let reason = `no addon at ${addonPath}`
    try {
      const status = JSON.parse(readFileSync(statusPath, "utf8")) as Partial<Record<AddonKind, { built?: boolean; reason?: string }>>
      const mine = status[kind]
      if (mine?.built === false && typeof mine.reason === "string") reason = `addon not built: ${mine.reason}`
      else if (mine === undefined) reason += " (built by an older install script; `npm run build:addon -w @duet/engine` rebuilds)"
    } catch {
      reason += " (the install script did not run; `npm run build:addon -w @duet/engine` builds it)"
    }
    return { ok: false, reason }
  }
  try {
    const addon = createRequire(import.meta.url)(addonPath) as NativeAddon
    addon.config()
    return { ok: true, addon }
  } catch (e) {
    return { ok: false, reason: `addon failed to load: ${e instanceof Error ? e.message : String(e)}` }
  }
}
