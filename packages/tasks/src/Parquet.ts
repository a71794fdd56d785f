/**
 * `Parquet`: loads problems from a Parquet file with hyparquet (pure JS; snappy built in), by
 * default in the shape verl's data preprocessing writes: `prompt` a list of chat messages
 * `[{ role, content }]` (or a string) and `reward_model.ground_truth`. Hugging Face's own
 * GSM8K/MATH parquet exports load with `format: "gsm8k"` / `"math"`, anything else with a
 * `RowFormat.Mapping`. A bad row fails the load with a `DatasetError` naming the file and its
 * 0-based row (as pandas numbers them), unless `onBadRow: "skip"`.
 */
import { Effect } from "effect"
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet"
import { DatasetError } from "./DatasetError.js"
import type { Problem } from "./Problem.js"
import * as RowFormat from "./RowFormat.js"

export interface Options {
  /** Row shape (default "verl"); "auto" picks it from the first row's columns (`RowFormat.detect`). */
  readonly format?: RowFormat.FormatOrAuto
  /** Shorthand for `format: mapping` (dot paths onto other columns); give one of the two. */
  readonly mapping?: RowFormat.Mapping
  /** "fail" (default): the first bad row fails the load; "skip": bad rows are left out and listed by `read`. */
  readonly onBadRow?: "fail" | "skip"
}

export interface Loaded {
  readonly problems: ReadonlyArray<Problem>
  readonly skipped: ReadonlyArray<DatasetError>
}

/** Converts decoded rows (pure); `file` only labels ids and errors. */
export const fromRows = (rows: ReadonlyArray<unknown>, file: string, formatOrAuto: RowFormat.FormatOrAuto): Loaded => {
  const problems: Problem[] = []
  const skipped: DatasetError[] = []
  const resolved = RowFormat.resolve(formatOrAuto, rows)
  if (resolved.error !== undefined) return { problems, skipped: [new DatasetError({ file, row: 0, reason: resolved.error })] }
  const format = resolved.format
  rows.forEach((row, i) => {
    const p = RowFormat.toProblem(row, format, { file, row: i })
    if (p instanceof DatasetError) skipped.push(p)
    else problems.push(p)
  })
  return { problems, skipped }
}

/** Reads every row; fails only when the file cannot be read or decoded, the format is malformed, or it has no rows. */
export const read = Effect.fn("Parquet.read")(function* (path: string, options: Options = {}) {
  if (options.format !== undefined && options.mapping !== undefined) {
    return yield* new DatasetError({ file: path, reason: "give either format or mapping, not both" })
  }
  const format = options.mapping ?? options.format ?? "verl"
  const bad = RowFormat.validate(format)
  if (bad !== undefined) return yield* new DatasetError({ file: path, reason: bad })
  const rows = yield* Effect.tryPromise({
    try: async () => parquetReadObjects({ file: await asyncBufferFromFile(path) }),
    catch: (e) => new DatasetError({ file: path, reason: `cannot read as Parquet: ${(e as Error).message}` })
  })
  if (rows.length === 0) return yield* new DatasetError({ file: path, reason: "has no rows" })
  return fromRows(rows, path, format)
})

/** The problems of a file; with the default `onBadRow: "fail"`, the first bad row is the error. */
export const load = Effect.fn("Parquet.load")(function* (path: string, options: Options = {}) {
  const loaded = yield* read(path, options)
  const first = loaded.skipped[0]
  if ((options.onBadRow ?? "fail") === "fail" && first !== undefined) return yield* first
  if (loaded.problems.length === 0) return yield* new DatasetError({ file: path, reason: "has no usable rows" })
  return loaded.problems as Problem[]
})
