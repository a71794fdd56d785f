/**
 * Exact-match reward: the extracted answer (or the whole completion) equals the gold string after
 * trimming and collapsing whitespace. For short-answer tasks where value comparison is wrong
 * (names, codes, multiple choice letters compared literally).
 */
import * as MathAnswer from "./MathAnswer.js"

export interface Options {
  /** Compare case-sensitively (default true). */
  readonly caseSensitive?: boolean
  /** Also try the extracted answer (box, "Answer:", ...) before the whole completion (default true). */
  readonly extract?: boolean
}

const squash = (s: string, caseSensitive: boolean): string => {
  const t = s.trim().replace(/\s+/g, " ")
  return caseSensitive ? t : t.toLowerCase()
}

export interface Result {
  readonly correct: boolean
  /** The string compared with the gold: the extracted answer, or the trimmed completion. */
  readonly extracted: string | null
}

/**
 * Correct when the whole completion or, with `extract`, its extracted answer (math delimiters
 * removed) equals `gold`, both trimmed with runs of whitespace collapsed to one space.
 */
export const check = (completion: string, gold: string, options: Options = {}): Result => {
  const caseSensitive = options.caseSensitive ?? true
  const want = squash(gold, caseSensitive)
  const whole = squash(completion.length > 100_000 ? completion.slice(-100_000) : completion, caseSensitive)
  if (whole === want) return { correct: true, extracted: completion.trim() }
  const extracted = options.extract ?? true ? MathAnswer.extract(completion) : null
  if (extracted === null) return { correct: false, extracted: completion.length <= 10_000 ? completion.trim() : null }
  return { correct: squash(extracted, caseSensitive) === want, extracted }
}
