/**
 * Format reward: 1 when a completion presents its answer in the expected format, else 0. By
 * default a balanced `\boxed{...}`, an `Answer:` line or a `#### N` line counts; a custom regex
 * replaces that test. Typically a small weight in a composite (math 1.0 + format 0.1).
 */
import { lastBoxed } from "./internal/LatexText.js"

export interface Options {
  /** A completion earns the reward when this matches (in its last `maxScanChars`). */
  readonly pattern?: RegExp
  /** Only the last this many characters are tested (default 100 000). */
  readonly maxScanChars?: number
}

export interface Result {
  readonly reward: 0 | 1
  /** The matched text (box content, answer line, or the pattern's match). */
  readonly matched: string | null
}

const ANSWER_LINE = /^[ \t]{0,8}(?:\*\*)?answer(?:\*\*)?[ \t]{0,3}:(?:\*\*)?[ \t]{0,3}(\S[^\n]{0,200})/im
const HASH_LINE = /^[ \t]{0,8}####[ \t]{0,3}(\S[^\n]{0,200})/m

/** Scores the format of one completion. */
export const check = (completion: string, options: Options = {}): Result => {
  const window = completion.slice(-(options.maxScanChars ?? 100_000))
  if (options.pattern !== undefined) {
    const re = new RegExp(options.pattern.source, options.pattern.flags.replace(/[gy]/g, ""))
    const m = re.exec(window)
    return m === null ? { reward: 0, matched: null } : { reward: 1, matched: m[0] }
  }
  const boxed = lastBoxed(window)
  if (boxed !== null && boxed.trim() !== "") return { reward: 1, matched: boxed }
  const line = ANSWER_LINE.exec(window) ?? HASH_LINE.exec(window)
  return line === null ? { reward: 0, matched: null } : { reward: 1, matched: line[1]!.trim() }
}
