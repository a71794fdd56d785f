/**
 * BatchMatMul for the wasm backend, all transposes and broadcast batch shapes, in two flavours:
 * - `blasBatchMatMul`: OpenBLAS `cblas_sgemm` on the wasm heap through the addon, zero copy;
 *   transposes become CblasTrans, a batched A times a shared B folds into one tall GEMM.
 * - `jsBatchMatMul` (no addon): explicit transposes (stock Transpose kernel) and batch folding
 *   onto the stock kernel's XNNPACK path, which tfjs 4.22 takes only for untransposed batch-1
 *   operands; the remaining batched products run XNNPACK per batch entry on aliased slices.
 * Semantics are tf.matMul's: C[..., M, N] = op(A)[..., M, K] op(B)[..., K, N], batch dims
 * broadcast numpy-style.
 */
import { broadcast_util } from "@tensorflow/tfjs"
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs"
import type { NativeAddon } from "./NativeAddon.js"
import { aliasId, heapF32, offsetOf, releaseAlias, sizeOf, type WasmBackend } from "./WasmBackend.js"

interface MatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo }
  backend: WasmBackend
  attrs: { transposeA: boolean; transposeB: boolean }
}

/** Shapes of one BatchMatMul call. */
export interface MatMulPlan {
  readonly M: number
  readonly N: number
  readonly K: number
  readonly outShape: number[]
  /** Batch entries of the output, A and B. */
  readonly batch: number
  readonly batchA: number
  readonly batchB: number
}

export const planMatMul = (aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): MatMulPlan => {
  const ar = aShape.length
  const br = bShape.length
  if (ar < 2 || br < 2) throw new Error(`BatchMatMul: operands must have rank >= 2, got [${aShape}] and [${bShape}]`)
  const M = transposeA ? aShape[ar - 1]! : aShape[ar - 2]!
  const Ka = transposeA ? aShape[ar - 2]! : aShape[ar - 1]!
  const Kb = transposeB ? bShape[br - 1]! : bShape[br - 2]!
  const N = transposeB ? bShape[br - 2]! : bShape[br - 1]!
  if (Ka !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${Ka}) and (${Kb}) of Tensors with shapes ${aShape} and ${bShape} and ` +
        `transposeA=${transposeA} and transposeB=${transposeB} must match.`
    )
  }
  const aBatch = aShape.slice(0, -2)
  const bBatch = bShape.slice(0, -2)
  const outBatch = broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch)
  return {
    M,
    N,
    K: Ka,
    outShape: [...outBatch, M, N],
    batch: sizeOf(outBatch),
    batchA: sizeOf(aBatch),
    batchB: sizeOf(bBatch)
  }
}

/**
 * Word offsets of each output batch entry's A and B matrices (numpy broadcasting of the batch
 * dims), relative to the operands' starts.
 */
export const broadcastOffsets = (
  aShape: number[],
  bShape: number[],
  outShape: number[],
  aMatrix: number,
  bMatrix: number
): { a: Int32Array; b: Int32Array } => {
  const outBatch = outShape.slice(0, -2)
  const rank = outBatch.length
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s]
  const aB = pad(aShape.slice(0, -2))
  const bB = pad(bShape.slice(0, -2))
  const strides = (dims: number[]) => {
    const st = new Array<number>(rank).fill(0)
    let acc = 1
    for (let d = rank - 1; d >= 0; d--) {
      st[d] = dims[d] === 1 ? 0 : acc
      acc *= dims[d]!
    }
    return st
  }
  const sa = strides(aB)
  const sb = strides(bB)
  const n = sizeOf(outBatch)
  const a = new Int32Array(n)
  const b = new Int32Array(n)
  const idx = new Array<number>(rank).fill(0)
  for (let i = 0; i < n; i++) {
    let ia = 0
    let ib = 0
    for (let d = 0; d < rank; d++) {
      ia += idx[d]! * sa[d]!
      ib += idx[d]! * sb[d]!
    }
    a[i] = ia * aMatrix
    b[i] = ib * bMatrix
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outBatch[d]!) break
      idx[d] = 0
    }
  }
  return { a, b }
}

const zeroFill = (backend: WasmBackend, out: TensorInfo): void => {
  const o = offsetOf(backend, out)
  heapF32(backend).fill(0, o, o + sizeOf(out.shape))
}

/** BatchMatMul on OpenBLAS; non-float32 inputs go to `stock` (which rejects them as tfjs does). */
export const blasBatchMatMul =
  (addon: NativeAddon, stock: KernelFunc): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as MatMulArgs
    const { a, b } = inputs
    if (a.dtype !== "float32" || b.dtype !== "float32") return stock(args)
    const { transposeA: ta, transposeB: tb } = attrs
    const p = planMatMul(a.shape, b.shape, ta, tb)
    const out = backend.makeOutput(p.outShape, "float32")
    if (p.batch === 0 || p.M === 0 || p.N === 0) return out
    if (p.K === 0) {
      zeroFill(backend, out)
      return out
    }
    const heap = heapF32(backend).buffer as ArrayBuffer // after makeOutput: growth replaces it
    const ao = offsetOf(backend, a)
    const bo = offsetOf(backend, b)
    const co = offsetOf(backend, out)
    const lda = a.shape[a.shape.length - 1]!
    const ldb = b.shape[b.shape.length - 1]!
    const { M, N, K } = p
    const aMat = M * K
    const bMat = K * N
    if (p.batchB === 1 && !ta && p.batchA === p.batch) {
      // (batch, M, K) x (K, N): one (batch*M, K) x (K, N) GEMM.
      addon.sgemm(heap, false, tb, p.batch * M, N, K, 1, 0, 1, ao, 0, lda, bo, 0, ldb, co, 0, N)
    } else if ((p.batchA === p.batch || p.batchA === 1) && (p.batchB === p.batch || p.batchB === 1)) {
      const sa = p.batchA === 1 ? 0 : aMat
      const sb = p.batchB === 1 ? 0 : bMat
      addon.sgemm(heap, ta, tb, M, N, K, 1, 0, p.batch, ao, sa, lda, bo, sb, ldb, co, M * N, N)
    } else {
      const offs = broadcastOffsets(a.shape, b.shape, p.outShape, aMat, bMat)
      const cOffs = new Int32Array(p.batch)
      for (let i = 0; i < p.batch; i++) {
        offs.a[i]! += ao
        offs.b[i]! += bo
        cOffs[i] = co + i * M * N
      }
      addon.sgemmOffsets(heap, ta, tb, M, N, K, 1, 0, offs.a, lda, offs.b, ldb, cOffs, N)
    }
    return out
  }

/**
 * Per-batch-entry work (M*N*K) from which XNNPACK on aliased slices beats the stock scalar loop:
 * one XNNPACK call costs ~12 us (operator creation and packing), the scalar loop ~1.4 GFLOP/s.
 */
const aliasMinWork = 16384

/** BatchMatMul without the addon: transposes and batch folding onto the stock XNNPACK path. */
export const jsBatchMatMul = (stock: KernelFunc, transpose: KernelFunc, backend0: WasmBackend): KernelFunc => {
  const xnnMatMul = backend0.wasm.cwrap("BatchMatMul", null, [
    "number",
    "array",
    "number",
    "number",
    "array",
    "number",
    "number",
    "number",
    "number"
  ])
  const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer)
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as MatMulArgs
    const { a, b } = inputs
    if (a.dtype !== "float32" || b.dtype !== "float32") return stock(args)
    const { transposeA: ta, transposeB: tb } = attrs
    const p = planMatMul(a.shape, b.shape, ta, tb)
    const { M, N, K } = p
    if (p.batchA === 1 && p.batchB === 1 && !ta && !tb && K > 0) return stock(args) // already XNNPACK
    if (p.batch === 0 || M === 0 || N === 0) return backend.makeOutput(p.outShape, "float32")
    if (K === 0) {
      const out = backend.makeOutput(p.outShape, "float32")
      zeroFill(backend, out) // stock leaves the output uninitialised when K = 0
      return out
    }
    const foldable = p.batchB === 1 && p.batchA === p.batch
    const stockBatching = (p.batchA === p.batch || p.batchA === 1) && (p.batchB === p.batch || p.batchB === 1)
    if (!stockBatching) {
      // General broadcast (e.g. [2] with [2, 1]): stock loops max(batchA, batchB) entries, wrongly;
      // go through the per-batch path whatever the size.
    } else if (!foldable && M * N * K < aliasMinWork) return stock(args) // tiny products: the scalar loop wins
    const temps: TensorInfo[] = []
    // Untransposed views: a as (batchA, M, K), b as (batchB, K, N).
    const untransposed = (x: TensorInfo, batch: number, rows: number, cols: number, t: boolean): TensorInfo => {
      if (!t) return { dataId: x.dataId, shape: [batch, rows, cols], dtype: x.dtype }
      const y = transpose({
        inputs: { x: { dataId: x.dataId, shape: [batch, cols, rows], dtype: x.dtype } },
        backend: backend as never,
        attrs: { perm: [0, 2, 1] }
      }) as TensorInfo
      temps.push(y)
      return y
    }
    try {
      const a3 = untransposed(a, p.batchA, M, K, ta)
      const b3 = untransposed(b, p.batchB, K, N, tb)
      if (foldable) {
        const out = stock({
          inputs: { a: { ...a3, shape: [p.batchA * M, K] }, b: { ...b3, shape: [K, N] } },
          backend: backend as never,
          attrs: { transposeA: false, transposeB: false }
        }) as TensorInfo
        out.shape = p.outShape
        return out
      }
      const out = backend.makeOutput(p.outShape, "float32")
      const ao = offsetOf(backend, a3)
      const bo = offsetOf(backend, b3)
      const co = offsetOf(backend, out)
      const offs = broadcastOffsets(a.shape, b.shape, p.outShape, M * K, N * K)
      const aShape = shapeBytes([1, M, K])
      const bShape = shapeBytes([1, K, N])
      for (let i = 0; i < p.batch; i++) {
        const ia = aliasId(backend, ao + offs.a[i]!, M * K)
        const ib = aliasId(backend, bo + offs.b[i]!, K * N)
        const ic = aliasId(backend, co + i * M * N, M * N)
        xnnMatMul(ia, aShape, 3, ib, bShape, 3, 0, 0, ic)
        releaseAlias(backend, ia)
        releaseAlias(backend, ib)
        releaseAlias(backend, ic)
      }
      return out
    } finally {
      for (const t of temps) backend.disposeData(t.dataId)
    }
  }
}

interface FusedMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo }
  backend: WasmBackend
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string }
}

/**
 * `_FusedMatMul` (tf.fused.matMul) without an activation: duet's BatchMatMul, then the bias added
 * to the product in place natively (`addRows`) when the bias is a row vector, else by the stock Add
 * kernel. The same float operations as matMul then add, one kernel dispatch fewer. Activations and
 * PReLU weights go to the stock kernel.
 */
export const fusedMatMulKernel =
  (matmul: KernelFunc, stockFused: KernelFunc, stockAdd: KernelFunc, addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as FusedMatMulArgs
    const { a, b, bias, preluActivationWeights } = inputs
    if ((attrs.activation ?? "linear") !== "linear" || preluActivationWeights !== undefined) return stockFused(args)
    const y = matmul({ inputs: { a, b }, backend, attrs: { transposeA: attrs.transposeA, transposeB: attrs.transposeB } } as never) as TensorInfo
    if (bias === undefined) return y
    const cols = y.shape[y.shape.length - 1]!
    const rowVector = bias.shape.every((d, i) => (i === bias.shape.length - 1 ? d === cols : d === 1)) && bias.shape.length <= y.shape.length
    if (addon?.addRows !== undefined && rowVector && y.dtype === "float32" && bias.dtype === "float32" && cols > 0) {
      addon.addRows(heapF32(backend).buffer as ArrayBuffer, offsetOf(backend, y), offsetOf(backend, bias), sizeOf(y.shape) / cols, cols)
      return y
    }
    const out = stockAdd({ inputs: { a: y, b: bias }, backend, attrs: {} } as never) as TensorInfo
    backend.disposeData(y.dataId)
    return out
  }
