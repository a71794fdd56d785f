/**
 * TensorBoard event files for a run's metrics: `RUN_DIR/tensorboard/events.out.tfevents.*`, one
 * scalar per numeric field of every record `RunDir.appendMetrics` writes, so `tensorboard --logdir
 * runs/` plots any duet run next to verl's and TRL's.
 *
 * npm has no maintained TensorBoard writer (tfjs-node's needs native TensorFlow), so this is the
 * format itself, which is small and stable: TFRecord framing (little-endian u64 length, masked
 * CRC-32C of the length, the bytes, masked CRC-32C of the bytes) around `tensorflow.Event` protobufs
 * (`wall_time` 1: double, `step` 2: int64, `file_version` 3: string, `session_log` 7, `summary` 5: { repeated
 * `value` 1: { `tag` 1: string, `simple_value` 2: float } }). The first event names the version
 * ("brain.Event:2"), as TensorFlow's writers do. Read back with Python tensorboard by
 * tools/ecosystem/tensorboard_readback.py.
 *
 * Tags (generic over names; nothing here knows a metric):
 * - `kind: "rl"`: each numeric field under its own name (`actor/ppo_kl`, ...), at `step`;
 * - `kind: "eval"`: `val-core/<split>/<field>` (a field already holding a "/" is kept as is), at `step`;
 * - any other kind (`sft`, ...): `<kind>/<field>`, at `step`.
 * `step`, and fields that are not finite numbers (strings, booleans, null), are not plotted.
 *
 * SFT records go to `tensorboard/sft/` (their steps count SFT steps, not RL steps), the rest to
 * `tensorboard/`. Each file's first scalars, and any step lower than one the file already holds,
 * come after a `SessionLog { status: START }` event at that step, as TensorFlow's supervisor writes
 * them: a reader takes the first START as the beginning and each later one as a restart, dropping
 * the points at and after its step, which a resumed run rewrites (file_version 2 readers purge on
 * START only, not on out-of-order steps).
 */
import { appendFileSync, existsSync, mkdirSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"

// ---- CRC-32C (Castagnoli), as TFRecord frames use it ------------------------------------------
const table = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

export const crc32c = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant (mod 2^32). */
export const maskedCrc32c = (bytes: Uint8Array): number => {
  const c = crc32c(bytes)
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0
}

/** One TFRecord: length, its masked CRC, the data, its masked CRC. */
export const frame = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(8 + 4 + data.length + 4)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(data.length), true)
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true)
  out.set(data, 12)
  view.setUint32(12 + data.length, maskedCrc32c(data), true)
  return out
}

// ---- protobuf (just the wire types an Event needs) ----------------------------------------------
const varint = (value: bigint | number): number[] => {
  let v = BigInt.asUintN(64, BigInt(value))
  const out: number[] = []
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
  return out
}
const key = (field: number, wire: number) => varint((field << 3) | wire)
const bytesField = (field: number, bytes: Uint8Array | number[]): number[] => [...key(field, 2), ...varint(bytes.length), ...bytes]
const utf8 = (s: string) => new TextEncoder().encode(s)
const double = (x: number): number[] => {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setFloat64(0, x, true)
  return [...b]
}
const float = (x: number): number[] => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setFloat32(0, x, true)
  return [...b]
}

/** A `tensorflow.Event` with scalar summaries (`simple_value`, float32). */
export const scalarEvent = (wallTime: number, step: number, values: ReadonlyArray<readonly [string, number]>): Uint8Array => {
  const summary: number[] = []
  for (const [tag, value] of values) summary.push(...bytesField(1, [...bytesField(1, utf8(tag)), ...key(2, 5), ...float(value)]))
  return Uint8Array.from([...key(1, 1), ...double(wallTime), ...key(2, 0), ...varint(Math.trunc(step)), ...bytesField(5, summary)])
}

/** `session_log { status: START }` at `step`: readers drop every point at or after `step` written before it. */
export const startEvent = (wallTime: number, step: number): Uint8Array =>
  Uint8Array.from([...key(1, 1), ...double(wallTime), ...key(2, 0), ...varint(Math.trunc(step)), ...bytesField(7, [...key(1, 0), ...varint(1)])])

/** The first event of a file: `file_version: "brain.Event:2"`. */
export const versionEvent = (wallTime: number): Uint8Array =>
  Uint8Array.from([...key(1, 1), ...double(wallTime), ...bytesField(3, utf8("brain.Event:2"))])

// ---- metrics records -> scalars -------------------------------------------------------------------
const skipped = new Set(["kind", "step", "phase", "split"])

/** The step and the tagged scalars of one metrics record (see the module comment for the tags). */
export const scalarsOf = (record: Readonly<Record<string, unknown>>): { step: number; values: Array<[string, number]> } => {
  const kind = typeof record.kind === "string" ? record.kind : "metrics"
  const step = typeof record.step === "number" && Number.isFinite(record.step) ? record.step : 0
  const split = typeof record.split === "string" ? record.split : "all"
  const values: Array<[string, number]> = []
  for (const [k, v] of Object.entries(record)) {
    if (skipped.has(k) || typeof v !== "number" || !Number.isFinite(v)) continue
    const tag = kind === "rl" ? k : kind === "eval" ? (k.includes("/") ? k : `val-core/${split}/${k}`) : `${kind}/${k}`
    values.push([tag, v])
  }
  return { step, values }
}

// ---- the writer ---------------------------------------------------------------------------------
export const directory = (runDir: string) => join(runDir, "tensorboard")

/** Where a record's events go: `tensorboard/sft` for SFT records, else `tensorboard`. */
export const directoryOf = (runDir: string, record: Readonly<Record<string, unknown>>) =>
  record.kind === "sft" ? join(directory(runDir), "sft") : directory(runDir)

export interface Writer {
  readonly path: string
  /**
   * Appends one event of scalars (nothing when `values` is empty); the file's first step, and a
   * step below one already written, are preceded by a START event.
   */
  scalars(step: number, values: ReadonlyArray<readonly [string, number]>, wallTime?: number): void
}

let opened = 0

/** A new events file in `dir` (created), starting with the version event. */
export const open = (dir: string): Writer => {
  mkdirSync(dir, { recursive: true })
  // Every file starts a session (the first START a reader sees only marks the beginning).
  let restart = true
  let maxStep = -Infinity
  const now = Date.now() / 1000
  const path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}.${opened++}`)
  appendFileSync(path, frame(versionEvent(now)))
  return {
    path,
    scalars: (step, values, wallTime = Date.now() / 1000) => {
      if (values.length === 0) return
      const events: Uint8Array[] = []
      if (restart || step < maxStep) events.push(frame(startEvent(wallTime, step)))
      events.push(frame(scalarEvent(wallTime, step, values)))
      appendFileSync(path, Buffer.concat(events))
      restart = false
      maxStep = Math.max(maxStep, step)
    }
  }
}

const writers = new Map<string, Writer>()

/** Appends a metrics record to the run's TensorBoard files. Set `DUET_TENSORBOARD=0` to write none. */
export const log = (runDir: string, record: Readonly<Record<string, unknown>>): void => {
  if (process.env.DUET_TENSORBOARD === "0") return
  const { step, values } = scalarsOf(record)
  if (values.length === 0) return
  const dir = directoryOf(runDir, record)
  let w = writers.get(dir)
  // A run directory removed and made again in this process (tests, --out reused) gets a new file.
  if (w === undefined || !existsSync(w.path)) {
    w = open(dir)
    writers.set(dir, w)
  }
  w.scalars(step, values)
}
