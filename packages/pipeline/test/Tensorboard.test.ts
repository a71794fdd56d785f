import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { RunDir, Tensorboard } from "../src/index.js"

/**
 * Event files written through RunDir.appendMetrics, decoded here by an independent reader (bitwise
 * CRC-32C, a generic protobuf walk) and compared with what Python tensorboard read from the same
 * records (fixtures/tensorboard/readback.json, from tools/ecosystem/tensorboard_readback.py).
 */
const fixtures = join(__dirname, "fixtures", "tensorboard")
const { records, resumed } = JSON.parse(readFileSync(join(fixtures, "records.json"), "utf8")) as Record<string, Array<Record<string, unknown>>>
const python = JSON.parse(readFileSync(join(fixtures, "readback.json"), "utf8")) as { scalars: Record<string, Array<[number, number]>> }

const crc32cBitwise = (bytes: Uint8Array): number => {
  let c = ~0 >>> 0
  for (const b of bytes) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}
const masked = (bytes: Uint8Array) => {
  const c = crc32cBitwise(bytes)
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0
}

type Field = { field: number; wire: number; value: bigint | Uint8Array }
const fields = (buf: Uint8Array): Field[] => {
  const out: Field[] = []
  let i = 0
  const varint = () => {
    let v = 0n
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++]!
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
    }
  }
  while (i < buf.length) {
    const k = Number(varint())
    const field = k >> 3
    const wire = k & 7
    if (wire === 0) out.push({ field, wire, value: varint() })
    else if (wire === 1) (out.push({ field, wire, value: buf.slice(i, i + 8) }), (i += 8))
    else if (wire === 5) (out.push({ field, wire, value: buf.slice(i, i + 4) }), (i += 4))
    else if (wire === 2) {
      const n = Number(varint())
      out.push({ field, wire, value: buf.slice(i, i + n) })
      i += n
    } else throw new Error(`wire type ${wire}`)
  }
  return out
}

interface Decoded {
  step: number
  fileVersion?: string
  start: boolean
  scalars: Array<[string, number]>
}
const decodeFile = (path: string): Decoded[] => {
  const bytes = new Uint8Array(readFileSync(path))
  const view = new DataView(bytes.buffer, bytes.byteOffset)
  const events: Decoded[] = []
  for (let at = 0; at < bytes.length; ) {
    const length = Number(view.getBigUint64(at, true))
    expect(view.getUint32(at + 8, true)).toBe(masked(bytes.subarray(at, at + 8)))
    const data = bytes.subarray(at + 12, at + 12 + length)
    expect(view.getUint32(at + 12 + length, true)).toBe(masked(data))
    at += 16 + length
    const e: Decoded = { step: 0, start: false, scalars: [] }
    for (const f of fields(data)) {
      if (f.field === 2) e.step = Number(f.value)
      if (f.field === 3) e.fileVersion = new TextDecoder().decode(f.value as Uint8Array)
      if (f.field === 7) e.start = fields(f.value as Uint8Array).some((s) => s.field === 1 && s.value === 1n)
      if (f.field === 5) {
        for (const v of fields(f.value as Uint8Array)) {
          const [tag, value] = fields(v.value as Uint8Array)
          e.scalars.push([new TextDecoder().decode(tag!.value as Uint8Array), new DataView((value!.value as Uint8Array).buffer).getFloat32(0, true)])
        }
      }
    }
    events.push(e)
  }
  return events
}

/** Every run's scalars as TensorBoard shows them: the first START begins a run, each later one drops steps >= its step. */
const read = (root: string) => {
  const runs = new Map<string, string[]>()
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.includes("tfevents")) continue
    const run = relative(root, entry.parentPath) || "."
    runs.set(run, [...(runs.get(run) ?? []), join(entry.parentPath, entry.name)].sort())
  }
  const out: Record<string, Array<[number, number]>> = {}
  for (const [run, files] of runs) {
    const points = new Map<string, Array<[number, number]>>()
    let seenStart = false
    for (const file of files) {
      const events = decodeFile(file)
      expect(events[0]!.fileVersion).toBe("brain.Event:2")
      for (const e of events) {
        if (e.start) {
          if (seenStart) for (const [t, ps] of points) points.set(t, ps.filter(([s]) => s < e.step))
          seenStart = true
        }
        for (const [tag, value] of e.scalars) points.set(tag, [...(points.get(tag) ?? []), [e.step, value]])
      }
    }
    for (const [tag, ps] of points) out[`${run}|${tag}`] = ps
  }
  return out
}

describe("TensorBoard event files", () => {
  it("every numeric field of every metrics record, read back as Python tensorboard reads it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-tb-"))
    for (const r of records!) await Effect.runPromise(RunDir.appendMetrics(dir, r))
    // A resume rewrites steps 4 and 5: TensorBoard must show the new values only.
    for (const r of resumed!) await Effect.runPromise(RunDir.appendMetrics(dir, r))
    const ours = read(Tensorboard.directory(dir))
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python.scalars).sort())
    for (const [tag, points] of Object.entries(python.scalars)) expect(ours[tag], tag).toEqual(points)
    expect(ours[".|actor/ppo_kl"]!.slice(-2)).toEqual([[4, 0.5], [5, 0.25]])
    expect(ours[".|actor/entropy"]!.map(([s]) => s)).toEqual([0, 1, 2, 3])
    expect(ours[".|val-core/test/meanAtN"]).toEqual([[0, Math.fround(0.5412)]])
    expect(ours["sft|sft/loss"]!.map(([s]) => s)).toEqual([0, 10, 20, 29])
  })

  it("a run directory removed and made again in the same process gets a fresh events file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-tb-"))
    await Effect.runPromise(RunDir.appendMetrics(dir, { kind: "rl", step: 0, x: 1 }))
    rmSync(dir, { recursive: true })
    mkdirSync(dir)
    await Effect.runPromise(RunDir.appendMetrics(dir, { kind: "rl", step: 0, x: 2 }))
    expect(read(Tensorboard.directory(dir))).toEqual({ ".|x": [[0, 2]] })
  })

  it("tags: rl fields as named, eval under val-core/<split>/, other kinds under <kind>/; strings, booleans and step left out", () => {
    expect(Tensorboard.scalarsOf({ kind: "rl", step: 3, "actor/ppo_kl": 0.1, note: "x", ok: true, bad: Number.NaN })).toEqual({ step: 3, values: [["actor/ppo_kl", 0.1]] })
    expect(Tensorboard.scalarsOf({ kind: "eval", step: 5, split: "test", phase: "after", meanAtN: 0.5, "val-core/test/acc": 1 }).values).toEqual([
      ["val-core/test/meanAtN", 0.5],
      ["val-core/test/acc", 1]
    ])
    expect(Tensorboard.scalarsOf({ kind: "sft", step: 7, loss: 1 }).values).toEqual([["sft/loss", 1]])
  })

  it("masked CRC-32C matches the published check value", () => {
    // CRC-32C("123456789") = 0xE3069283 (RFC 3720).
    expect(Tensorboard.crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283)
    expect(crc32cBitwise(new TextEncoder().encode("123456789"))).toBe(0xe3069283)
  })
})
