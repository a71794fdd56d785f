/**
 * Copies the stock wasm backend makes needlessly slowly:
 * - `Identity` (tf.clone, and every tensor the engine saves for a gradient) copies the buffer on
 *   stock wasm; here it shares it and bumps the reference count, as tfjs-backend-cpu and wasm's own
 *   Reshape do. Safe because tfjs tensors are immutable; duet's only in-place writer (AdamW) writes
 *   in place only into buffers whose reference count is 1.
 * - `GatherV2` with batchDims 0 (embedding lookups): stock reads the indices back and asserts each
 *   in a closure; here the indices are range-checked in one loop and rows copied with copyWithin.
 * - `Transpose` of 4-byte elements with the addon: one native pass (attention's head splits and
 *   merges, (B, T, H, hd) <-> (B, H, T, hd), ran at ~0.2 GB/s on stock wasm).
 */
import { util } from "@tensorflow/tfjs"
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs"
import type { NativeAddon } from "./NativeAddon.js"
import { heapI32, offsetOf, sizeOf, type WasmBackend } from "./WasmBackend.js"

interface Args<I, A = Record<string, never>> {
  inputs: I
  backend: WasmBackend
  attrs: A
}

export const identityKernel =
  (stock: KernelFunc): KernelFunc =>
  (args) => {
    const { inputs, backend } = args as unknown as Args<{ x: TensorInfo }>
    const { x } = inputs
    if (x.dtype === "string") return stock(args)
    backend.incRef(x.dataId)
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
  }

export const gatherKernel =
  (stock: KernelFunc): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ x: TensorInfo; indices: TensorInfo }, { axis: number; batchDims: number }>
    const { x, indices } = inputs
    if ((attrs.batchDims ?? 0) !== 0 || (x.dtype !== "float32" && x.dtype !== "int32") || indices.dtype !== "int32") return stock(args)
    const axis = util.parseAxisParam(attrs.axis, x.shape)[0]!
    const dim = x.shape[axis]!
    const outer = sizeOf(x.shape.slice(0, axis))
    const slice = sizeOf(x.shape.slice(axis + 1))
    const n = sizeOf(indices.shape)
    const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype)
    const heap = heapI32(backend) // 4-byte elements copied bit for bit, whatever their type
    const io = offsetOf(backend, indices)
    for (let i = 0; i < n; i++) {
      const k = heap[io + i]!
      if (k < 0 || k >= dim) {
        backend.disposeData(out.dataId)
        throw new Error(`GatherV2: the index value ${k} is not in [0, ${dim - 1}]`)
      }
    }
    if (slice === 0 || outer === 0) return out
    const xo = offsetOf(backend, x)
    const oo = offsetOf(backend, out)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < n; i++) {
        const src = xo + (o * dim + heap[io + i]!) * slice
        heap.copyWithin(oo + (o * n + i) * slice, src, src + slice)
      }
    }
    return out
  }

export const transposeKernel =
  (stock: KernelFunc, addon: NativeAddon | undefined): KernelFunc =>
  (args) => {
    const { inputs, backend, attrs } = args as unknown as Args<{ x: TensorInfo }, { perm: number[] }>
    const { x } = inputs
    if (addon?.transpose === undefined || (x.dtype !== "float32" && x.dtype !== "int32") || x.shape.length === 0 || x.shape.length > 8) return stock(args)
    const perm = attrs.perm
    const out = backend.makeOutput(perm.map((a) => x.shape[a]!), x.dtype)
    if (sizeOf(x.shape) > 0) addon.transpose(heapI32(backend).buffer as ArrayBuffer, offsetOf(backend, x), offsetOf(backend, out), Int32Array.from(x.shape), Int32Array.from(perm))
    return out
  }
