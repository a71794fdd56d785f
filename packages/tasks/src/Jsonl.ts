/**
 * `Jsonl`: loads problems from a JSON Lines file (one JSON object per line), such as GSM8K's
 * `{"question", "answer": "... #### 72"}` or MATH's `{"problem", "solution", "answer"?}`, or any
 * shape given by a `RowFormat.Mapping`. Blank lines are skipped; a bad row fails the load with a
 * `DatasetError` naming the file and its 1-based line, unless `onBadRow: "skip"`. A line longer than
 * `maxLineBytes` (default 1 MiB) is a bad row found before any text is decoded or parsed, so a
 * 100 MB line fails in milliseconds instead of after gigabytes of JSON parsing.
 */
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import { at, DatasetError } from "./DatasetError.js"
import type { Problem } from "./Problem.js"
import * as RowFormat from "./RowFormat.js"

export interface Options {
  /** Row shape; "auto" picks it from the first row's fields (`RowFormat.detect`). */
  readonly format: RowFormat.FormatOrAuto
  /** "fail" (default): the first bad row fails the load; "skip": bad rows are left out and listed by `read`. */
  readonly onBadRow?: "fail" | "skip"
  /** Longest line accepted, in bytes (default 1 MiB: far above any GSM8K or MATH row). */
  readonly maxLineBytes?: number
}

export const defaultMaxLineBytes = 1 << 20

/**
 * Lines over `max` bytes (1-based), and the bytes with those lines emptied (line numbers kept).
 * Scans for newlines only: nothing is decoded.
 */
const dropLongLines = (bytes: Uint8Array, max: number, file: string): { bytes: Uint8Array; long: DatasetError[] } => {
  const long: DatasetError[] = []
  const spans: Array<[number, number]> = []
  let start = 0
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(10, start)
    if (end < 0) end = bytes.length
    if (end - start > max) {
      long.push(at({ file, line }, `is ${(end - start).toLocaleString("en-US")} bytes, over the limit of ${max.toLocaleString("en-US")} bytes per row (maxLineBytes)`))
      spans.push([start, end])
    }
    start = end + 1
  }
  if (spans.length === 0) return { bytes, long }
  const kept: Uint8Array[] = []
  let from = 0
  for (const [a, b] of spans) {
    kept.push(bytes.subarray(from, a))
    from = b
  }
  kept.push(bytes.subarray(from))
  return { bytes: Buffer.concat(kept), long }
}

export interface Loaded {
  readonly problems: ReadonlyArray<Problem>
  /** One error per bad row, in file order. */
  readonly skipped: ReadonlyArray<DatasetError>
}

/** Parses JSONL text (pure); `file` only labels ids and errors. Every bad row is collected. */
export const parse = (text: string, file: string, formatOrAuto: RowFormat.FormatOrAuto): Loaded => {
  let format = formatOrAuto === "auto" ? undefined : formatOrAuto
  const problems: Problem[] = []
  const skipped: DatasetError[] = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!
    if (i === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1)
    if (line.endsWith("\r")) line = line.slice(0, -1)
    if (line.trim() === "") continue
    const where = { file, line: i + 1 }
    let row: unknown
    try {
      row = JSON.parse(line)
    } catch (e) {
      skipped.push(at(where, `invalid JSON: ${(e as Error).message}`))
      continue
    }
    if (format === undefined) {
      const found = RowFormat.resolve("auto", [row])
      if (found.error !== undefined) return { problems: [], skipped: [at(where, found.error)] }
      format = found.format
    }
    const p = RowFormat.toProblem(row, format, where)
    if (p instanceof DatasetError) skipped.push(p)
    else problems.push(p)
  }
  return { problems, skipped }
}

/** Reads and parses a file; fails only when the file cannot be read, the format is malformed, or no row is usable. */
export const read = Effect.fn("Jsonl.read")(function* (path: string, options: Options) {
  const bad = RowFormat.validate(options.format)
  if (bad !== undefined) return yield* new DatasetError({ file: path, reason: bad })
  const raw = yield* Effect.tryPromise({
    try: () => readFile(path),
    catch: (e) => new DatasetError({ file: path, reason: `cannot read: ${(e as Error).message}` })
  })
  const { bytes, long } = dropLongLines(raw, options.maxLineBytes ?? defaultMaxLineBytes, path)
  const parsed = parse(new TextDecoder().decode(bytes), path, options.format)
  const skipped = [...long, ...parsed.skipped].sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
  const loaded: Loaded = { problems: parsed.problems, skipped }
  if (loaded.problems.length === 0 && loaded.skipped.length === 0) {
    return yield* new DatasetError({ file: path, reason: "has no rows" })
  }
  return loaded
})

/** The problems of a file; with the default `onBadRow: "fail"`, the first bad row is the error. */
export const load = Effect.fn("Jsonl.load")(function* (path: string, options: Options) {
  const loaded = yield* read(path, options)
  const first = loaded.skipped[0]
  if ((options.onBadRow ?? "fail") === "fail" && first !== undefined) return yield* first
  if (loaded.problems.length === 0) return yield* new DatasetError({ file: path, reason: "has no usable rows" })
  return loaded.problems as Problem[]
})
