/**
 * The safetensors format (huggingface/safetensors, `docs/` "Format"): an 8-byte little-endian
 * header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, ...,
 * "__metadata__"?: { string: string } }`, then the raw little-endian tensor bytes, offsets relative
 * to the end of the header.
 *
 * npm has no maintained safetensors package (`safetensors` is a 0.0.1 placeholder), so this is a
 * small reader/writer. It writes what the reference Rust library writes (header padded with spaces
 * to 8 bytes; tensors ordered by dtype size, then name; contiguous offsets) and reads with the
 * reference library's checks (offsets in bounds, contiguous, covering the whole buffer; sizes
 * matching shapes), so HF's Python/Rust loaders read our files and we reject truncated ones.
 */
import { DuetInputError } from "@duet/core"

/** A file (or buffer) is not valid safetensors; `file` names it. */
export class SafetensorsError extends DuetInputError {
  readonly _tag = "SafetensorsError" as const
  constructor(
    readonly file: string,
    readonly detail: string
  ) {
    super(`${file}: ${detail}`)
    this.name = "SafetensorsError"
  }
}

export type Dtype = "F64" | "F32" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL" | "F16" | "BF16"

const DTYPE_BYTES: Record<Dtype, number> = { F64: 8, F32: 4, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F16: 2, BF16: 2 }

/** A tensor as stored: dtype, shape and its raw little-endian bytes. */
export interface RawTensor {
  readonly dtype: Dtype
  readonly shape: ReadonlyArray<number>
  readonly bytes: Uint8Array
}

/** Largest header accepted (the Rust library's limit, 100 MB). */
const MAX_HEADER = 100_000_000

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const elements = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** A float32 or int32 array as a RawTensor (its bytes copied). */
export const fromArray = (data: Float32Array | Int32Array, shape: ReadonlyArray<number>): RawTensor => {
  if (!littleEndian) throw new Error("safetensors: big-endian hosts are not supported")
  const dtype: Dtype = data instanceof Float32Array ? "F32" : "I32"
  if (elements(shape) !== data.length) throw new SafetensorsError("<memory>", `shape [${shape}] holds ${elements(shape)} values, data has ${data.length}`)
  return { dtype, shape: [...shape], bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) }
}

/** The values of an F32 or I32 tensor (a copy, so it is aligned). */
export const toArray = (t: RawTensor, file = "<memory>"): Float32Array | Int32Array => {
  if (!littleEndian) throw new Error("safetensors: big-endian hosts are not supported")
  const copy = new Uint8Array(t.bytes.length) // not bytes.slice(): on a Node Buffer that is a view
  copy.set(t.bytes)
  const buf = copy.buffer
  if (t.dtype === "F32") return new Float32Array(buf)
  if (t.dtype === "I32") return new Int32Array(buf)
  throw new SafetensorsError(file, `dtype ${t.dtype} is not supported here (F32 and I32 are)`)
}

/** Serialises tensors (and string metadata) to safetensors bytes. */
export const encode = (tensors: ReadonlyMap<string, RawTensor>, metadata?: Readonly<Record<string, string>>): Uint8Array => {
  const names = [...tensors.keys()].sort((a, b) => {
    const d = DTYPE_BYTES[tensors.get(b)!.dtype] - DTYPE_BYTES[tensors.get(a)!.dtype]
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0
  })
  const header: Record<string, unknown> = {}
  if (metadata !== undefined && Object.keys(metadata).length > 0) header["__metadata__"] = metadata
  let offset = 0
  for (const name of names) {
    if (name === "__metadata__") throw new SafetensorsError("<memory>", `"__metadata__" is reserved and cannot name a tensor`)
    const t = tensors.get(name)!
    const size = elements(t.shape) * DTYPE_BYTES[t.dtype]
    if (t.bytes.length !== size) throw new SafetensorsError("<memory>", `tensor ${name}: ${t.bytes.length} bytes for shape [${t.shape}] ${t.dtype} (needs ${size})`)
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] }
    offset += size
  }
  let json = new TextEncoder().encode(JSON.stringify(header))
  const padded = Math.ceil(json.length / 8) * 8
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20)
    p.set(json)
    json = p
  }
  const out = new Uint8Array(8 + json.length + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  let at = 8 + json.length
  for (const name of names) {
    const b = tensors.get(name)!.bytes
    out.set(b, at)
    at += b.length
  }
  return out
}

/** Parses safetensors bytes; `file` names the source in every error. */
export const decode = (
  bytes: Uint8Array,
  file: string
): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } => {
  const fail = (detail: string): never => {
    throw new SafetensorsError(file, detail)
  }
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length (truncated?)`)
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds ${MAX_HEADER} bytes (not a safetensors file?)`)
  const N = Number(n)
  if (8 + N > bytes.length) fail(`header says ${N} bytes but the file has ${bytes.length - 8} after the length (truncated?)`)
  let header: unknown
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + N)))
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`)
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object")
  const dataStart = 8 + N
  const dataLength = bytes.length - dataStart
  const metadata: Record<string, string> = {}
  const entries: Array<{ name: string; dtype: Dtype; shape: number[]; begin: number; end: number }> = []
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail("__metadata__ is not an object")
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`)
        metadata[k] = v as string
      }
      continue
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    if (typeof info !== "object" || info === null) fail(`tensor ${name}: entry is not an object`)
    if (typeof info.dtype !== "string" || !(info.dtype in DTYPE_BYTES)) fail(`tensor ${name}: unknown dtype ${JSON.stringify(info.dtype)}`)
    const shape = info.shape
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`)
    const offsets = info.data_offsets
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[0] > offsets[1]) {
      fail(`tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`)
    }
    const [begin, end] = offsets as [number, number]
    const dtype = info.dtype as Dtype
    const want = elements(shape as number[]) * DTYPE_BYTES[dtype]
    if (end - begin !== want) fail(`tensor ${name}: ${end - begin} bytes for shape [${shape as number[]}] ${dtype} (needs ${want})`)
    if (end > dataLength) fail(`tensor ${name}: data_offsets end ${end} is past the ${dataLength} data bytes (truncated?)`)
    entries.push({ name, dtype, shape: shape as number[], begin, end })
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let expected = 0
  for (const e of entries) {
    if (e.begin !== expected) fail(`tensor ${e.name}: data starts at ${e.begin}, expected ${expected} (overlapping or holes)`)
    expected = e.end
  }
  if (expected !== dataLength) fail(`tensors cover ${expected} data bytes but the file has ${dataLength} (trailing bytes or truncated)`)
  const tensors = new Map<string, RawTensor>()
  for (const e of entries) {
    const copy = new Uint8Array(e.end - e.begin) // a copy: bytes may be a Node Buffer, whose slice() is a view
    copy.set(bytes.subarray(dataStart + e.begin, dataStart + e.end))
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: copy })
  }
  return { tensors, metadata }
}
