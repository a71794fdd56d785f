/**
 * Batch verification of JSONL rows `{"pred": ..., "gold": ...}` (the CLI's `duet verify`). Each
 * output row is the input row plus `correct`, `extracted` and `reward` (and, with `explain`, the
 * `explain` object: extracted answer, gold answer, deciding rule, reason). Blank lines are skipped;
 * the first bad line (invalid JSON, not an object, `pred`/`gold` missing or not a string/number)
 * fails the whole run with `BadRowError` naming its 1-based line number: a half-verified file is
 * worse than none. A verifier that throws on a well-formed row does not lose it: the row is graded
 * wrong (reward 0) with the failure as its reason.
 */
import { Effect, Schema } from "effect"
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

export interface Options {
  /** Add `explain` (extracted answer, gold answer, deciding rule, reason) to each row. */
  readonly explain?: boolean
}

/** A verifier defect on one row, graded wrong instead of failing the batch. */
const crashed = (defect: unknown): Verdict => {
  const reason = `verifier failed: ${defect instanceof Error ? defect.message : String(defect)}`
  return { reward: 0, correct: false, extracted: null, explanation: { extracted: null, gold: null, rule: "verifier failed", reason } }
}

const field = (row: Record<string, unknown>, name: "pred" | "gold", line: number): Effect.Effect<string, BadRowError> => {
  const v = row[name]
  if (typeof v === "string") return Effect.succeed(v)
  if (typeof v === "number" && Number.isFinite(v)) return Effect.succeed(String(v))
  const detail = v === undefined ? `missing field "${name}"` : `field "${name}" must be a string or number, got ${JSON.stringify(v)}`
  return Effect.fail(new BadRowError({ line, detail }))
}

/** Verifies one JSONL line (1-based `line` for errors); `null` for a blank line. */
export const verifyLine = Effect.fn("VerifyRows.verifyLine")(function*(
  text: string,
  line: number,
  verifier: Shape,
  options: Options = {}
) {
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
  const verdict = yield* verifier.verify(pred, gold).pipe(Effect.catchDefect((d) => Effect.succeed(crashed(d))))
  const out: OutputRow = { ...row, correct: verdict.correct, extracted: verdict.extracted, reward: verdict.reward }
  if (options.explain !== true) return out
  const explain: Explanation = verdict.explanation ??
    { extracted: verdict.extracted, gold: null, rule: verifier.name, reason: verdict.correct ? "matched" : "mismatch" }
  return { ...out, explain } satisfies OutputRow
})

const isAsync = (x: AsyncIterable<string> | Iterable<string>): x is AsyncIterable<string> =>
  typeof (x as AsyncIterable<string>)[Symbol.asyncIterator] === "function"

/** Verifies every line with `verifier`, in order. */
export const runWith = (
  lines: AsyncIterable<string> | Iterable<string>,
  verifier: Shape,
  options: Options = {}
): Effect.Effect<Array<OutputRow>, BadRowError> =>
  Effect.gen(function*() {
    const out: Array<OutputRow> = []
    let line = 0
    if (isAsync(lines)) {
      const it = lines[Symbol.asyncIterator]()
      for (;;) {
        const next = yield* Effect.tryPromise({
          try: () => it.next(),
          catch: (e) => new BadRowError({ line: line + 1, detail: `cannot read input (${String(e)})` })
        })
        if (next.done === true) break
        const row = yield* verifyLine(next.value, ++line, verifier, options)
        if (row !== null) out.push(row)
      }
    } else {
      for (const text of lines) {
        const row = yield* verifyLine(text, ++line, verifier, options)
        if (row !== null) out.push(row)
      }
    }
    return out
  })

/** Verifies every line with the verifier called `verifierName` (`math`, `gsm8k`, `exact`, `format`). */
export const run = (
  lines: AsyncIterable<string> | Iterable<string>,
  verifierName: string,
  options: Options = {}
): Effect.Effect<Array<OutputRow>, BadRowError | UnknownVerifierError> =>
  Effect.flatMap(shapeByName(verifierName), (verifier) => runWith(lines, verifier, options))
