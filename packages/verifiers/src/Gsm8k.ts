/**
 * GSM8K answers. The dataset's `answer` field is a worked solution ending in `#### 42`; the gold
 * is the text after the last `####` with thousands separators removed (verl's
 * `gsm8k.extract_solution`). Completions are checked by value (`MathAnswer.equivalent`), so
 * `18.00`, `$18` and `18 dollars` all match 18, where verl compares strings.
 */
import { InvalidArgumentError } from "@duet/core"
import * as MathAnswer from "./MathAnswer.js"
import { lastNumber } from "./internal/AnswerExtraction.js"

/**
 * The gold answer of a GSM8K `answer` field: the text after the last `####`, commas, spaces and
 * `$` removed. A field without `####` is taken as the answer itself (already extracted golds).
 * Throws `InvalidArgumentError` when nothing is left.
 */
export const goldAnswer = (answerField: string): string => {
  const at = answerField.lastIndexOf("####")
  const raw = at === -1 ? answerField : answerField.slice(at + 4)
  const gold = raw.replace(/[,\s$]/g, "")
  if (gold === "") throw new InvalidArgumentError("answer", `no GSM8K answer after "####" in ${JSON.stringify(answerField.slice(-80))}`)
  return gold
}

/**
 * How the completion's answer is found:
 * - `"math"` (default): `MathAnswer.extract` (final-answer phrase, box, "Answer:"/"####", last number);
 * - `"strict"`: only the last `#### N` (verl `method="strict"`);
 * - `"flexible"`: the last number anywhere (verl `method="flexible"`).
 */
export type Method = "math" | "strict" | "flexible"

export interface Options extends MathAnswer.Options {
  readonly method?: Method
}

/** The completion's answer under `method`, or `null`. */
export const extract = (completion: string, options: Options = {}): string | null => {
  const method = options.method ?? "math"
  const window = completion.slice(-(options.maxScanChars ?? MathAnswer.DEFAULT_MAX_SCAN_CHARS))
  if (method === "math") return MathAnswer.extract(window, options)
  if (method === "flexible") return lastNumber(window)
  const at = window.lastIndexOf("####")
  if (at === -1) return null
  const m = /^\s*(-?[0-9.,]{1,64})/.exec(window.slice(at + 4, at + 100))
  return m === null ? null : m[1]!.replace(/,/g, "").replace(/\.$/, "")
}

/** Checks a completion against a GSM8K gold (a full `answer` field or the bare number). */
export const check = (completion: string, gold: string, options: Options = {}): MathAnswer.CheckResult => {
  const extracted = extract(completion, options)
  if (extracted === null) return { correct: false, extracted: null, reason: "no answer found", rule: "no answer" }
  const c = MathAnswer.compare(extracted, goldAnswer(gold), options)
  return { correct: c.equal, extracted, reason: c.equal ? "matched" : "mismatch", gold: c.gold, rule: c.rule }
}
