/**
 * `RowFormat`: how a dataset row (a parsed JSON object or a Parquet row) becomes a `Problem`.
 *
 * - "gsm8k": `{ question, answer }`, gold = the `#### N` of `answer` (see `GoldAnswer`).
 * - "math": `{ problem, solution, answer? }`, gold = `answer` when present, else the last
 *   `\boxed{}` of `solution`.
 * - "verl": verl's RL parquet rows: `prompt` (a chat: `[{ role, content }]`, or a string),
 *   `reward_model.ground_truth`; `data_source`, `ability` and `extra_info` travel in `meta`.
 * - "dapo": DAPO-Math-17k's rows: verl's shape (the prompt is a chat, the gold a plain answer).
 * - a `Mapping` of dot paths (`"reward_model.ground_truth"`, `"turns.0.text"`) for any other shape,
 *   with an optional gold extraction and an optional solution column.
 * - "auto" (`resolve`): one of the above chosen from the first row's columns.
 *
 * The worked solution, where a row has one, goes to `meta.solution` (GSM8K: the text before
 * `####`; MATH: `solution`; verl GSM8K: `extra_info.answer` before `####`; a mapping: its
 * `solution` path), so SFT can train on it. Parquet INT64 values (bigints) in `meta` become numbers
 * (or decimal strings beyond 2^53), so every problem serialises with `JSON.stringify`.
 *
 * A chat prompt becomes the content of its LAST user message (the full chat stays in
 * `meta.messages`). A non-scalar ground truth (e.g. TinyZero countdown's `{ target, numbers }`) is
 * JSON-encoded into `answer` and kept raw in `meta.groundTruth`.
 */
import { at, type DatasetError, type Location } from "./DatasetError.js"
import * as GoldAnswer from "./GoldAnswer.js"
import type { Problem } from "./Problem.js"

export interface Mapping {
  /** Dot path of the prompt: a string or a list of chat messages. */
  readonly prompt: string
  /** Dot path of the gold answer (or of the solution that contains it, with `gold`). */
  readonly answer: string
  /** Dot path of an id (default: file and line/row). */
  readonly id?: string
  /** How to read the gold from the answer field (default "as-is"). */
  readonly gold?: "as-is" | "after-hashes" | "last-boxed"
  /** Dot path of a worked solution (kept in `meta.solution` for SFT on solutions). */
  readonly solution?: string
}

export type Format = "gsm8k" | "math" | "verl" | "dapo" | Mapping

/** A format, or "auto": chosen from the first row (see `detect`). */
export type FormatOrAuto = Format | "auto"

/**
 * The format a row's columns say: `question` + `answer` -> gsm8k; `problem` -> math; `prompt` +
 * `reward_model` -> verl (DAPO's data_source "math_dapo" -> dapo). An error reason otherwise.
 */
export const detect = (row: unknown): Format | string => {
  if (typeof row !== "object" || row === null || Array.isArray(row)) return `cannot detect the format: the first row is ${describeType(row)}, not an object`
  const keys = Object.keys(row)
  const has = (k: string) => keys.includes(k)
  if (has("prompt") && has("reward_model")) return (row as Record<string, unknown>).data_source === "math_dapo" ? "dapo" : "verl"
  if (has("question") && has("answer")) return "gsm8k"
  if (has("problem")) return "math"
  return `cannot detect the format from the columns ${keys.slice(0, 12).map((k) => JSON.stringify(k)).join(", ")}: give format (gsm8k, math, verl, dapo) or columns { prompt, answer }`
}

/** `format`, with "auto" resolved from the first of `rows`; an error reason when it cannot be. */
export const resolve = (
  format: FormatOrAuto,
  rows: ReadonlyArray<unknown>
): { readonly format: Format; readonly error?: undefined } | { readonly error: string } => {
  if (format !== "auto") return { format }
  if (rows.length === 0) return { error: "has no rows to detect the format from" }
  const f = detect(rows[0])
  return typeof f === "string" && f !== "gsm8k" && f !== "math" && f !== "verl" && f !== "dapo" ? { error: f } : { format: f as Format }
}

/** Bigints (Parquet INT64) as numbers, or as decimal strings beyond 2^53; nested values too. */
export const plain = (v: unknown): unknown => {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
  if (Array.isArray(v)) return v.map(plain)
  if (typeof v === "object" && v !== null && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  }
  return v
}

export const verl: Mapping = { prompt: "prompt", answer: "reward_model.ground_truth" }

const missing = Symbol("missing")

/** The value at a dot path; numeric segments index arrays. `missing` when any step is absent or null. */
export const lookup = (row: unknown, path: string): unknown => {
  let v: unknown = row
  for (const key of path.split(".")) {
    if (v === null || v === undefined || typeof v !== "object") return missing
    v = Array.isArray(v) ? (/^\d+$/.test(key) ? v[Number(key)] : undefined) : (v as Record<string, unknown>)[key]
    if (v === undefined || v === null) return missing
  }
  return v
}

const describeType = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : `a ${typeof v}`)

/** JSON with bigints as numbers' decimal text (Parquet INT64 columns decode to bigint). */
export const toJson = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x))

interface Message {
  readonly role: string
  readonly content: string
}

const isMessage = (m: unknown): m is Message =>
  typeof m === "object" && m !== null && typeof (m as Message).role === "string" && typeof (m as Message).content === "string"

/** Prompt text from a string or a chat; an error reason otherwise. */
const promptOf = (v: unknown): { text: string; messages?: ReadonlyArray<Message> } | string => {
  if (typeof v === "string") return v.trim() === "" ? "is empty" : { text: v }
  if (Array.isArray(v)) {
    const bad = v.findIndex((m) => !isMessage(m))
    if (bad >= 0) return `message ${bad} is not a { role, content } pair of strings`
    const user = [...v].reverse().find((m: Message) => m.role === "user") as Message | undefined
    if (user === undefined) return "chat has no user message"
    if (user.content.trim() === "") return "last user message is empty"
    return { text: user.content, messages: (v as Message[]).map(({ role, content }) => ({ role, content })) }
  }
  return `is ${describeType(v)}; expected a string or a list of { role, content } messages`
}

/** Gold text from a scalar or JSON-encoded structure; an error reason otherwise. */
const goldOf = (v: unknown): { text: string; raw?: unknown } | string => {
  if (typeof v === "string") return v.trim() === "" ? "is empty" : { text: v.trim() }
  if (typeof v === "number") return Number.isFinite(v) ? { text: String(v) } : `is ${v}`
  if (typeof v === "bigint") return { text: v.toString() }
  if (typeof v === "object" && v !== null) {
    const raw = plain(v)
    return { text: toJson(raw), raw }
  }
  return `is ${describeType(v)}; expected a string or a number`
}

const extract = (gold: Mapping["gold"], text: string): string | undefined =>
  gold === "after-hashes" ? GoldAnswer.afterHashes(text) : gold === "last-boxed" ? GoldAnswer.lastBoxed(text) : text

/**
 * Builds the problem of one row, or the error that names the row and field. Ids default to
 * `file:line` (JSONL) or `file#row` (Parquet).
 */
export const toProblem = (row: unknown, format: Format, where: Location): Problem | DatasetError => {
  if (typeof row !== "object" || row === null || Array.isArray(row)) return at(where, `row is ${describeType(row)}, not an object`)
  const defaultId = where.line !== undefined ? `${where.file}:${where.line}` : `${where.file}#${where.row ?? 0}`

  if (format === "gsm8k") {
    const question = lookup(row, "question")
    const answer = lookup(row, "answer")
    if (typeof question !== "string" || question.trim() === "") return at(where, question === missing ? "is missing" : "must be a non-empty string", "question")
    if (typeof answer !== "string") return at(where, answer === missing ? "is missing" : "must be a string", "answer")
    const gold = GoldAnswer.afterHashes(answer)
    if (gold === undefined) return at(where, 'has no "#### N" final answer', "answer")
    return { id: defaultId, prompt: question, answer: gold, meta: { solution: GoldAnswer.beforeHashes(answer) } }
  }

  if (format === "math") {
    const problem = lookup(row, "problem")
    if (typeof problem !== "string" || problem.trim() === "") return at(where, problem === missing ? "is missing" : "must be a non-empty string", "problem")
    const solution = lookup(row, "solution")
    const given = lookup(row, "answer")
    const meta: Record<string, unknown> = {}
    if (typeof solution === "string") meta.solution = solution
    for (const k of ["level", "type", "subject", "unique_id"]) {
      const v = lookup(row, k)
      if (v !== missing) meta[k] = plain(v)
    }
    if (given !== missing) {
      const g = goldOf(given)
      if (typeof g === "string") return at(where, g, "answer")
      return { id: defaultId, prompt: problem, answer: g.text, meta }
    }
    if (typeof solution !== "string") return at(where, solution === missing ? "is missing (and there is no answer field)" : "must be a string", "solution")
    const boxed = GoldAnswer.lastBoxed(solution)
    if (boxed === undefined) return at(where, "has no \\boxed{...} answer (and there is no answer field)", "solution")
    return { id: defaultId, prompt: problem, answer: boxed, meta }
  }

  const mapping = format === "verl" || format === "dapo" ? verl : format
  const p = lookup(row, mapping.prompt)
  if (p === missing) return at(where, "is missing", mapping.prompt)
  const prompt = promptOf(p)
  if (typeof prompt === "string") return at(where, prompt, mapping.prompt)
  const a = lookup(row, mapping.answer)
  if (a === missing) return at(where, "is missing", mapping.answer)
  const g = goldOf(a)
  if (typeof g === "string") return at(where, g, mapping.answer)
  const gold = extract(mapping.gold, g.text)
  if (gold === undefined) {
    return at(where, mapping.gold === "after-hashes" ? 'has no "#### N" final answer' : "has no \\boxed{...} answer", mapping.answer)
  }
  const meta: Record<string, unknown> = {}
  if (prompt.messages !== undefined) meta.messages = prompt.messages
  if (g.raw !== undefined) meta.groundTruth = g.raw
  if (format === "verl" || format === "dapo") {
    for (const k of ["data_source", "ability", "extra_info"]) {
      const v = lookup(row, k)
      if (v !== missing) meta[k] = plain(v)
    }
    // verl's GSM8K preprocessing keeps the original "reasoning #### N" answer in extra_info.answer.
    const full = lookup(row, "extra_info.answer")
    if (typeof full === "string" && full.trim() !== "") meta.solution = GoldAnswer.beforeHashes(full)
  } else if (mapping.solution !== undefined) {
    const sol = lookup(row, mapping.solution)
    if (sol !== missing) {
      if (typeof sol !== "string") return at(where, `is ${describeType(sol)}; expected a string`, mapping.solution)
      meta.solution = sol
    }
  }
  let id = defaultId
  if (mapping.id !== undefined) {
    const v = lookup(row, mapping.id)
    if (typeof v === "string" || typeof v === "number" || typeof v === "bigint") id = String(v)
    else return at(where, v === missing ? "is missing" : `is ${describeType(v)}; expected a string or number id`, mapping.id)
  }
  return { id, prompt: prompt.text, answer: gold, meta }
}

/** Checks a format value given from outside (e.g. a recipe file); a reason when malformed. */
export const validate = (format: unknown): string | undefined => {
  if (format === "gsm8k" || format === "math" || format === "verl" || format === "dapo" || format === "auto") return undefined
  if (typeof format !== "object" || format === null) return `format must be "gsm8k", "math", "verl", "dapo", "auto" or { prompt, answer } paths`
  const m = format as Record<string, unknown>
  for (const k of ["prompt", "answer"]) if (typeof m[k] !== "string" || m[k] === "") return `format.${k} must be a non-empty dot path`
  if (m.id !== undefined && typeof m.id !== "string") return "format.id must be a dot path"
  if (m.solution !== undefined && (typeof m.solution !== "string" || m.solution === "")) return "format.solution must be a non-empty dot path"
  if (m.gold !== undefined && m.gold !== "as-is" && m.gold !== "after-hashes" && m.gold !== "last-boxed") {
    return 'format.gold must be "as-is", "after-hashes" or "last-boxed"'
  }
  return undefined
}
