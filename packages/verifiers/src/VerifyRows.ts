/**
 * Batch verification of JSONL rows `{"pred": ..., "gold": ...}` (the CLI's `duet verify`). Each
 * output row is the input row plus `correct`, `extracted` and `reward` (and, with `explain`, the
 * `explain` object: extracted answer, gold answer, deciding rule, reason). Rows are graded and
 * handed on one at a time (`stream`), so memory stays bounded. Blank lines are skipped but counted;
 * a UTF-8 BOM on line 1 is ignored. A bad line (invalid JSON, not an object, `pred`/`gold` missing
 * or not a string/finite number, a row too deeply nested to write back) becomes an error row
 * `{"line": N, "error": ..., "correct": false, "extracted": null, "reward": 0}` and the batch goes
 * on; with `strict` the first bad line fails the run with `BadRowError` naming its 1-based line
 * number. A verifier that throws on a well-formed row does not lose it: the row is graded wrong
 * (reward 0) with the failure as its reason. Each side is bounded to its last `MAX_SIDE_CHARS`
 * characters before grading (where a final answer is). Non-finite numbers (`1e999` parses to
 * Infinity) are written as the strings `"Infinity"` / `"-Infinity"`, never as `null`.
 */
import { Effect, Schema } from "effect"
import { DEFAULT_MAX_SCAN_CHARS } from "./MathAnswer.js"
import { type Explanation, shapeByName, type Shape, type UnknownVerifierError, type Verdict } from "./Verifier.js"

/** A JSONL line that cannot be verified. */
export class BadRowError extends Schema.TaggedError<BadRowError>()("BadRowError", {
  line: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    return `line ${this.line}: ${this.detail}`
  }
}

export type OutputRow = Record<string, unknown> & {
  readonly correct: boolean
  readonly extracted: string | null
  readonly reward: number
  readonly explain?: Explanation
}

/** A line that could not be verified, in place of its row (non-strict mode). */
export type ErrorRow = {
  readonly line: number
  readonly error: string
  readonly correct: false
  readonly extracted: null
  readonly reward: 0
}

export interface Options {
  /** Add `explain` (extracted answer, gold answer, deciding rule, reason) to each row. */
  readonly explain?: boolean
  /** Fail the run with `BadRowError` at the first bad line instead of emitting an error row. */
  readonly strict?: boolean
}

/** Each side (`pred`, `gold`) is cut to its last this-many characters before grading. */
export const MAX_SIDE_CHARS = DEFAULT_MAX_SCAN_CHARS

const bound = (s: string): string => (s.length > MAX_SIDE_CHARS ? s.slice(-MAX_SIDE_CHARS) : s)

const finiteOrString = (_key: string, v: unknown): unknown =>
  typeof v === "number" && !Number.isFinite(v) ? String(v) : v

/** One output line: JSON with non-finite numbers as `"Infinity"` / `"-Infinity"` / `"NaN"`; throws `RangeError` when nested too deeply. */
export const toJson = (row: OutputRow): string => JSON.stringify(row, finiteOrString)

const errorRow = (e: BadRowError): ErrorRow => ({ line: e.line, error: e.detail, correct: false, extracted: null, reward: 0 })

/** A verifier defect on one row, graded wrong instead of failing the batch. */
const crashed = (defect: unknown): Verdict => {
  const reason = `verifier failed: ${defect instanceof Error ? defect.message : String(defect)}`
  return { reward: 0, correct: false, extracted: null, explanation: { extracted: null, gold: null, rule: "verifier failed", reason } }
}

const field = (row: Record<string, unknown>, name: "pred" | "gold", line: number): Effect.Effect<string, BadRowError> => {
  const v = row[name]
  if (typeof v === "string") return Effect.succeed(v)
  if (typeof v === "number" && Number.isFinite(v)) return Effect.succeed(String(v))
  let shown: string
  try {
    shown = JSON.stringify(v, finiteOrString)?.slice(0, 100) ?? String(v)
  } catch {
    shown = Array.isArray(v) ? "a deeply nested array" : "a deeply nested object"
  }
  const detail = v === undefined ? `missing field "${name}"` : `field "${name}" must be a string or finite number, got ${shown}`
  return Effect.fail(new BadRowError({ line, detail }))
}

/** Verifies one JSONL line (1-based `line` for errors); `null` for a blank line. */
export const verifyLine = Effect.fn("VerifyRows.verifyLine")(function*(
  text: string,
  line: number,
  verifier: Shape,
  options: Options = {}
) {
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  if (text.trim() === "") return null
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return yield* new BadRowError({ line, detail: `invalid JSON (${e instanceof Error ? e.message : String(e)})` })
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return yield* new BadRowError({ line, detail: "expected a JSON object with \"pred\" and \"gold\"" })
  }
  const row = parsed as Record<string, unknown>
  const pred = yield* field(row, "pred", line)
  const gold = yield* field(row, "gold", line)
  const verdict = yield* verifier.verify(bound(pred), bound(gold)).pipe(Effect.catchDefect((d) => Effect.succeed(crashed(d))))
  const out: OutputRow = { ...row, correct: verdict.correct, extracted: verdict.extracted, reward: verdict.reward }
  if (options.explain !== true) return out
  const explain: Explanation = verdict.explanation ??
    { extracted: verdict.extracted, gold: null, rule: verifier.name, reason: verdict.correct ? "matched" : "mismatch" }
  return { ...out, explain } satisfies OutputRow
})

const isAsync = (x: AsyncIterable<string> | Iterable<string>): x is AsyncIterable<string> =>
  typeof (x as AsyncIterable<string>)[Symbol.asyncIterator] === "function"

const notYet = Symbol("notYet")
const BATCH = 256

/**
 * Waits for the next line, then takes the lines already available (up to `BATCH`) without waiting
 * for more: one fiber suspension per batch instead of per line, and a row is still graded as soon
 * as its line arrives.
 */
const pullReady = async (
  it: AsyncIterator<string>,
  state: { pending: Promise<IteratorResult<string>> | null; done: boolean }
): Promise<Array<string>> => {
  const batch: Array<string> = []
  const first = await (state.pending ?? it.next())
  state.pending = null
  if (first.done === true) {
    state.done = true
    return batch
  }
  batch.push(first.value)
  while (batch.length < BATCH) {
    const next = it.next()
    const ready = await Promise.race([next, Promise.resolve(notYet)])
    if (ready === notYet) {
      state.pending = next
      break
    }
    const r = ready as IteratorResult<string>
    if (r.done === true) {
      state.done = true
      break
    }
    batch.push(r.value)
  }
  return batch
}

/** What `stream` saw: rows written (error rows included), correct rows, error rows. */
export interface Summary {
  readonly rows: number
  readonly correct: number
  readonly errors: number
}

/**
 * Verifies every line with `verifier`, in order, handing each row and its JSON line to `emit` as
 * soon as it is graded (nothing is kept). A bad line is emitted as an `ErrorRow`, or fails the run
 * with `strict`.
 */
export const stream = <E = never>(
  lines: AsyncIterable<string> | Iterable<string>,
  verifier: Shape,
  options: Options,
  emit: (row: OutputRow, json: string) => Effect.Effect<void, E>
): Effect.Effect<Summary, BadRowError | E> =>
  Effect.gen(function*() {
    let line = 0
    let rows = 0
    let correct = 0
    let errors = 0
    const grade = (text: string, n: number): Effect.Effect<{ row: OutputRow; json: string } | null, BadRowError> =>
      Effect.gen(function*() {
        const row = yield* verifyLine(text, n, verifier, options)
        if (row === null) return null
        try {
          return { row, json: toJson(row) }
        } catch (e) {
          return yield* new BadRowError({ line: n, detail: `cannot write the row back (${e instanceof Error ? e.message : String(e)})` })
        }
      }).pipe(
        Effect.catch((e: BadRowError) => {
          if (options.strict === true) return Effect.fail(e)
          errors++
          const row = errorRow(e)
          return Effect.succeed({ row, json: toJson(row) })
        })
      )
    const one = (text: string, n: number): Effect.Effect<void, BadRowError | E> =>
      Effect.flatMap(grade(text, n), (graded) => {
        if (graded === null) return Effect.void
        rows++
        if (graded.row.correct) correct++
        return emit(graded.row, graded.json)
      })
    if (isAsync(lines)) {
      const it = lines[Symbol.asyncIterator]()
      const pull = { pending: null as Promise<IteratorResult<string>> | null, done: false }
      for (;;) {
        const batch = yield* Effect.tryPromise({
          try: () => pullReady(it, pull),
          catch: (e) => new BadRowError({ line: line + 1, detail: `cannot read input (${String(e)})` })
        })
        for (const text of batch) yield* one(text, ++line)
        if (pull.done) break
      }
    } else {
      for (const text of lines) yield* one(text, ++line)
    }
    return { rows, correct, errors } satisfies Summary
  })

/** Verifies every line with `verifier`, in order, and collects the rows (see `stream` to keep memory bounded). */
export const runWith = (
  lines: AsyncIterable<string> | Iterable<string>,
  verifier: Shape,
  options: Options = {}
): Effect.Effect<Array<OutputRow>, BadRowError> => {
  const out: Array<OutputRow> = []
  return Effect.as(stream(lines, verifier, options, (row) => Effect.sync(() => void out.push(row))), out)
}

/** Verifies every line with the verifier called `verifierName` (`math`, `gsm8k`, `exact`, `format`). */
export const run = (
  lines: AsyncIterable<string> | Iterable<string>,
  verifierName: string,
  options: Options = {}
): Effect.Effect<Array<OutputRow>, BadRowError | UnknownVerifierError> =>
  Effect.flatMap(shapeByName(verifierName), (verifier) => runWith(lines, verifier, options))

/** `stream` with the verifier called `verifierName` (`math`, `gsm8k`, `exact`, `format`). */
export const streamByName = <E = never>(
  lines: AsyncIterable<string> | Iterable<string>,
  verifierName: string,
  options: Options,
  emit: (row: OutputRow, json: string) => Effect.Effect<void, E>
): Effect.Effect<Summary, BadRowError | UnknownVerifierError | E> =>
  Effect.flatMap(shapeByName(verifierName), (verifier) => stream(lines, verifier, options, emit))
