/**
 * `DataFile`: one dataset file, JSONL or Parquet by its extension, in a named shape ("gsm8k",
 * "math", "verl", "dapo"), detected ("auto"), or mapped column by column (`columns`). Also the SFT
 * demonstration of a loaded problem: its bare answer, or its worked solution on one line.
 */
import { Effect } from "effect"
import { extname } from "node:path"
import { DatasetError } from "./DatasetError.js"
import * as GoldAnswer from "./GoldAnswer.js"
import * as Jsonl from "./Jsonl.js"
import * as Parquet from "./Parquet.js"
import type { Problem } from "./Problem.js"
import type * as RowFormat from "./RowFormat.js"

/** Column paths for a shape none of the named formats fits. */
export interface Columns {
  /** Dot path of the prompt (a string or a list of chat messages). */
  readonly prompt: string
  /** Dot path of the gold answer (or of a solution holding it, with `gold`). */
  readonly answer: string
  /** Dot path of the worked solution (for `sft: solution`). */
  readonly solution?: string
  /** How to read the gold from `answer` (default "as-is"). */
  readonly gold?: "as-is" | "after-hashes" | "last-boxed"
}

export interface Options {
  /** Default "auto". */
  readonly format?: RowFormat.FormatOrAuto
  /** Instead of a named format (with `format` absent or "auto"). */
  readonly columns?: Columns
  readonly onBadRow?: "fail" | "skip"
  /** Read as this whatever the extension (default: by extension, `containerOf`). */
  readonly container?: Container
}

export type Container = "jsonl" | "parquet"

/** By extension: `.parquet` / `.pq`, or `.jsonl` / `.json` / `.ndjson`; an error reason otherwise. */
export const containerOf = (path: string): Container | string => {
  const ext = extname(path).toLowerCase()
  if (ext === ".parquet" || ext === ".pq") return "parquet"
  if (ext === ".jsonl" || ext === ".json" || ext === ".ndjson") return "jsonl"
  return `has the extension "${ext}"; expected .jsonl (JSON Lines) or .parquet`
}

/** The row format the options name. */
export const formatOf = (options: Options): RowFormat.FormatOrAuto | string => {
  const format = options.format ?? "auto"
  if (options.columns === undefined) return format
  if (format !== "auto") return `give format or columns, not both (format is "${typeof format === "string" ? format : "a mapping"}")`
  const { prompt, answer, solution, gold } = options.columns
  return { prompt, answer, ...(solution === undefined ? {} : { solution }), ...(gold === undefined ? {} : { gold }) }
}

/** The problems of one file; the first bad row is the error unless `onBadRow: "skip"`. */
export const load = Effect.fn("DataFile.load")(function* (path: string, options: Options = {}) {
  const container = options.container ?? containerOf(path)
  if (container !== "jsonl" && container !== "parquet") return yield* new DatasetError({ file: path, reason: container })
  const format = formatOf(options)
  if (typeof format === "string" && !["gsm8k", "math", "verl", "dapo", "auto"].includes(format)) {
    return yield* new DatasetError({ file: path, reason: format })
  }
  const onBadRow = options.onBadRow ?? "fail"
  return container === "parquet"
    ? yield* Parquet.load(path, { format: format as RowFormat.FormatOrAuto, onBadRow })
    : yield* Jsonl.load(path, { format: format as RowFormat.FormatOrAuto, onBadRow })
})

/**
 * The worked solution of a problem as one line (newlines become spaces, so the task's "\n" stop
 * still ends it), ending in its final answer: a solution without a `\boxed{}` or `#### N` gets
 * ` #### <answer>` appended. Undefined when the row has no solution.
 */
export const solutionLine = (problem: Problem): string | undefined => {
  const sol = problem.meta?.solution
  if (typeof sol !== "string" || sol.trim() === "") return undefined
  const flat = sol.replace(/\s*[\r\n]+\s*/g, " ").trim()
  return GoldAnswer.lastBoxed(flat) !== undefined || GoldAnswer.afterHashes(flat) !== undefined ? flat : `${flat} #### ${problem.answer}`
}
