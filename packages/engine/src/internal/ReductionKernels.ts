/**
 * Reductions the stock wasm backend lacks or runs slowly:
 * - `Sum` over a contiguous block of axes that is not innermost (bias and LayerNorm gradients,
 *   broadcast-add gradients): stock transposes the reduced axes innermost first; here the input is
 *   read as (outer, mid, inner) and rows are added in place, in float64. Innermost or scattered
 *   axes, and non-float32 inputs, go to the stock kernel.
 * - `UnsortedSegmentSum` (tf.gather's gradient), not registered in tfjs-backend-wasm 4.22
 *   (tensorflow/tfjs#8082): out[s] = sum of x[i] over i with segmentIds[i] = s; ids outside
 *   [0, numSegments) are dropped, as in TensorFlow.
 */
import { util } from "@tensorflow/tfjs"
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs"
import type { NativeAddon } from "./NativeAddon.js"
import { heapF32, heapI32, offsetOf, sizeOf, type WasmBackend } from "./WasmBackend.js"

interface SumArgs {
  inputs: { x: TensorInfo }
  backend: WasmBackend
  attrs: { axis: number | number[]; keepDims: boolean }
}

/** The reduced axes as one contiguous block [from, to), or undefined when they are not one. */
export const contiguousAxes = (axis: number | number[], shape: number[]): { from: number; to: number } | undefined => {
  const axes = [...new Set(util.parseAxisParam(axis, shape))].sort((x, y) => x - y)
  if (axes.length === 0) return undefined
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[0]! + i) return undefined
  return { from: axes[0]!, to: axes[axes.length - 1]! + 1 }
}

export const sumKernel =
  (stock: KernelFunc, addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as SumArgs
    const { x } = inputs
    if (x.dtype !== "float32") return stock(args)
    const block = contiguousAxes(attrs.axis, x.shape)
    if (block === undefined) return stock(args)
    const inner = sizeOf(x.shape.slice(block.to))
    if (inner === 1) return stock(args) // innermost reduction: stock needs no transpose
    const outer = sizeOf(x.shape.slice(0, block.from))
    const mid = sizeOf(x.shape.slice(block.from, block.to))
    const outShape = attrs.keepDims
      ? x.shape.map((d, i) => (i >= block.from && i < block.to ? 1 : d))
      : [...x.shape.slice(0, block.from), ...x.shape.slice(block.to)]
    const out = backend.makeOutput(outShape, "float32")
    const heap = heapF32(backend)
    const xo = offsetOf(backend, x)
    const oo = offsetOf(backend, out)
    if (addon !== undefined) {
      addon.sumRows(heap.buffer as ArrayBuffer, xo, oo, outer, mid, inner)
      return out
    }
    const acc = new Float64Array(inner)
    for (let o = 0; o < outer; o++) {
      acc.fill(0)
      for (let m = 0; m < mid; m++) {
        const base = xo + (o * mid + m) * inner
        for (let i = 0; i < inner; i++) acc[i]! += heap[base + i]!
      }
      const dst = oo + o * inner
      for (let i = 0; i < inner; i++) heap[dst + i] = acc[i]!
    }
    return out
  }

interface SegmentSumArgs {
  inputs: { x: TensorInfo; segmentIds: TensorInfo }
  backend: WasmBackend
  attrs: { numSegments: number }
}

export const unsortedSegmentSumKernel =
  (addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
  const { inputs, backend, attrs } = args as unknown as SegmentSumArgs
  const { x, segmentIds } = inputs
  const { numSegments } = attrs
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`)
  }
  if (segmentIds.dtype !== "int32") throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`)
  const idsRank = segmentIds.shape.length
  if (x.shape.slice(0, idsRank).join(",") !== segmentIds.shape.join(",")) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must prefix x shape [${x.shape}]`)
  }
  const innerShape = x.shape.slice(idsRank)
  const inner = sizeOf(innerShape)
  const n = sizeOf(segmentIds.shape)
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype)
  const oo = offsetOf(backend, out)
  const xo = offsetOf(backend, x)
  const io = offsetOf(backend, segmentIds)
  const ids = heapI32(backend)
  // One loop per element type keeps each monomorphic (a Float32Array | Int32Array loop is ~10x slower).
  if (x.dtype === "float32" && addon !== undefined) addon.segmentSum(ids.buffer as ArrayBuffer, xo, io, oo, n, inner, numSegments)
  else if (x.dtype === "float32") segmentSumF32(heapF32(backend), ids, xo, io, oo, n, inner, numSegments)
  else segmentSumI32(ids, xo, io, oo, n, inner, numSegments)
  return out
}

const segmentSumF32 = (data: Float32Array, ids: Int32Array, xo: number, io: number, oo: number, n: number, inner: number, numSegments: number): void => {
  data.fill(0, oo, oo + numSegments * inner)
  for (let i = 0; i < n; i++) {
    const s = ids[io + i]!
    if (s < 0 || s >= numSegments) continue
    const src = xo + i * inner
    const dst = oo + s * inner
    for (let j = 0; j < inner; j++) data[dst + j]! += data[src + j]!
  }
}

const segmentSumI32 = (data: Int32Array, xo: number, io: number, oo: number, n: number, inner: number, numSegments: number): void => {
  data.fill(0, oo, oo + numSegments * inner)
  for (let i = 0; i < n; i++) {
    const s = data[io + i]!
    if (s < 0 || s >= numSegments) continue
    const src = xo + i * inner
    const dst = oo + s * inner
    for (let j = 0; j < inner; j++) data[dst + j] = (data[dst + j]! + data[src + j]!) | 0
  }
}
