/**
 * Typed access to tfjs-backend-wasm 4.22.0 internals (`dataIdMap`, `makeOutput`, the Emscripten
 * module's heap views). Not public API: the package pins tfjs-backend-wasm exactly, and
 * `assertWasmInternals` checks the shape at init so a version drift fails loudly, not silently.
 *
 * Every offset below is in float32 elements from the start of the heap (bytes / 4). Re-read the
 * heap (`heapF32`) after any allocation: memory growth replaces the ArrayBuffer.
 */
import type { DataType, TensorInfo } from "@tensorflow/tfjs-core"

export interface WasmTensorData {
  readonly id: number
  readonly memoryOffset: number
  readonly shape: number[]
  readonly dtype: DataType
  refCount: number
}

export interface WasmModule {
  HEAPF32: Float32Array
  HEAP32: Int32Array
  HEAPU8: Uint8Array
  cwrap: (name: string, ret: string | null, args: ReadonlyArray<string>) => (...args: unknown[]) => unknown
  tfjs: {
    registerTensor: (id: number, size: number, memoryOffset: number) => void
    disposeData: (id: number) => void
  }
}

/** The parts of `BackendWasm` duet's kernels touch. */
export interface WasmBackend {
  wasm: WasmModule
  dataIdMap: { get(dataId: object): WasmTensorData | undefined; has(dataId: object): boolean }
  dataIdNextNumber: number
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo
  disposeData(dataId: object, force?: boolean): boolean
  refCount(dataId: object): number
  incRef(dataId: object): void
}

/** Throws unless `backend` looks like tfjs-backend-wasm 4.22's BackendWasm. */
export const assertWasmInternals = (backend: unknown): WasmBackend => {
  const b = backend as Partial<WasmBackend> | null
  const ok =
    b != null &&
    typeof b.makeOutput === "function" &&
    typeof b.dataIdMap?.get === "function" &&
    typeof b.dataIdNextNumber === "number" &&
    b.wasm?.HEAPF32 instanceof Float32Array &&
    typeof b.wasm.cwrap === "function" &&
    typeof b.wasm.tfjs?.registerTensor === "function"
  if (!ok) {
    throw new Error(
      "@duet/engine: the wasm backend does not expose the internals duet's kernels need " +
        "(dataIdMap, makeOutput, wasm.HEAPF32); is @tensorflow/tfjs-backend-wasm exactly 4.22.0?"
    )
  }
  return b as WasmBackend
}

/** Heap record of a tensor; throws if it is not on this backend. */
export const dataOf = (backend: WasmBackend, t: TensorInfo): WasmTensorData => {
  const d = backend.dataIdMap.get(t.dataId)
  if (d === undefined) throw new Error("@duet/engine: tensor is not on the wasm backend (disposed?)")
  return d
}

/** Offset of a float32/int32 tensor's first element, in 4-byte words. */
export const offsetOf = (backend: WasmBackend, t: TensorInfo): number => dataOf(backend, t).memoryOffset >>> 2

/** The current float32 view of the heap (re-read after allocating). */
export const heapF32 = (backend: WasmBackend): Float32Array => backend.wasm.HEAPF32

/** The current int32 view of the heap. */
export const heapI32 = (backend: WasmBackend): Int32Array => backend.wasm.HEAP32

/** Element count of a shape. */
export const sizeOf = (shape: ReadonlyArray<number>): number => {
  let n = 1
  for (const d of shape) n *= d
  return n
}

/**
 * Registers a tensor id that aliases `size` elements at word offset `offset` (no allocation), so a
 * stock wasm C++ kernel can read or write a slice of another tensor. Release with `releaseAlias`:
 * it only drops the id (and the kernel caches keyed on it), never frees memory.
 */
export const aliasId = (backend: WasmBackend, offset: number, size: number): number => {
  const id = backend.dataIdNextNumber++
  backend.wasm.tfjs.registerTensor(id, size, offset * 4)
  return id
}

export const releaseAlias = (backend: WasmBackend, id: number): void => backend.wasm.tfjs.disposeData(id)
