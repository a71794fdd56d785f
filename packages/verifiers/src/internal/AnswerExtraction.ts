/**
 * Finding the answer in a completion. Candidates by priority: the last "final answer is X", the
 * last balanced `\boxed{X}` / `\fbox{X}` (first when it comes after that phrase), the last
 * "Answer: X" / "answer is X" / "#### X", and,
 * only when none of those is present, the last number. Only the last `maxScanChars` of the
 * completion are read; every scan is linear and every regex has a literal anchor and bounded
 * quantifiers, so a hostile megabyte costs milliseconds.
 */
import { lastBoxed, lastBoxGroup, MAX_ANSWER_CHARS } from "./LatexText.js"

/** Where an answer was read: a phrase, a box, the last math span or number, or the whole (short) text. */
export type Source = "final-answer" | "boxed" | "answer-phrase" | "last-math" | "last-number" | "whole"

export interface Candidate {
  readonly source: Source
  /** Raw answer text (math delimiters kept; the cleaner removes them). */
  readonly text: string
}

const FINAL_ANSWER = /final\s{1,3}answer\s{0,3}(?:\*\*\s{0,3})?(?:is\b|:)/gi
const ANSWER_PHRASE = /\banswer\s{0,3}(?:\*\*\s{0,3})?(?::|is\b\s{0,3}:?)|####/gi

/** Index just past the last match of a global regex, or -1. */
const lastMatchEnd = (re: RegExp, s: string): number => {
  re.lastIndex = 0
  let end = -1
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    end = m.index + m[0].length
    if (m[0].length === 0) re.lastIndex++
  }
  return end
}

/** The answer written right after a phrase: a `$..$`/`\(..\)`/`\[..\]` span, a box, or a sentence. */
const readSpan = (s: string, start: number): Array<string> => {
  let p = start
  const limit = Math.min(s.length, start + 200)
  while (p < limit && /[\s*:]/.test(s[p]!)) p++
  const rest = s.slice(p, p + MAX_ANSWER_CHARS)
  const closeAt = (open: string, close: string): string | null => {
    if (!rest.startsWith(open)) return null
    const end = rest.indexOf(close, open.length)
    return end === -1 ? null : rest.slice(0, end + close.length)
  }
  const delimited = closeAt("$$", "$$") ?? closeAt("\\[", "\\]") ?? closeAt("\\(", "\\)")
  if (delimited !== null) return [delimited]
  if (rest.startsWith("$") && !/^\$\s?\d/.test(rest)) {
    const span = closeAt("$", "$")
    if (span !== null) return [span]
  }
  if (/^\\(?:boxed|fbox)(?![A-Za-z])/.test(rest)) {
    const boxed = lastBoxed(rest.slice(0, boxedEnd(rest)))
    if (boxed !== null) return [boxed]
  }
  // A sentence: up to the end of the line, cut at the first sentence end (". " is not "3.5").
  const newline = rest.search(/\r?\n/)
  let line = newline === -1 ? rest : rest.slice(0, newline)
  const stop = line.search(/[.!?;](?:\s|$)/)
  if (stop !== -1) line = line.slice(0, stop)
  line = line.replace(/\*\*/g, "").trim()
  if (line.includes("\\boxed")) {
    const boxed = lastBoxed(line)
    if (boxed !== null) return [boxed]
  }
  const spans = [line]
  const dollars = /\$([^$]{1,500})\$/.exec(line)
  if (dollars !== null) spans.push(dollars[0])
  const comma = line.search(/,\s+[A-Za-z]/)
  if (comma !== -1) spans.push(line.slice(0, comma))
  const lead = /^[-+$]?\s?\d[\d,]*(?:\.\d+)?(?:\s?\/\s?\d+)?%?/.exec(line)
  if (lead !== null) spans.push(lead[0])
  return spans.filter((x) => x.trim() !== "")
}

/** Index just past the first box's closing brace (or the whole text). */
const boxedEnd = (s: string): number => {
  const open = s.indexOf("{")
  if (open === -1) return s.length
  let depth = 0
  for (let i = open; i < s.length; i++) {
    if (s[i] === "\\") {
      i++
      continue
    }
    if (s[i] === "{") depth++
    else if (s[i] === "}" && --depth === 0) return i + 1
  }
  return s.length
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9"

/**
 * The last number in the text: `-3`, `1,234.5`, `7/2`, `.5`, `12%`. Looks at most 64 characters
 * back from the last digit, so `1,1,1,...` of any length costs the same; a longer digit run gives
 * `null`.
 */
export const lastNumber = (s: string): string | null => lastNumberAt(s)?.text ?? null

/** `lastNumber` with the index range it was read from. */
const lastNumberAt = (s: string): { readonly text: string; readonly start: number; readonly end: number } | null => {
  let j = s.length - 1
  while (j >= 0 && !isDigit(s[j])) j--
  if (j < 0) return null
  const end = j + 1
  let i = j
  const floor = Math.max(0, end - 64)
  const numeric = (ch: string | undefined) => isDigit(ch) || ch === "," || ch === "." || ch === "/"
  while (i - 1 >= floor && numeric(s[i - 1])) i--
  // A digit run longer than the window is no answer anyone writes: read nothing rather than a piece.
  let run = end - 1
  while (run >= floor && isDigit(s[run])) run--
  if (run < floor && isDigit(s[floor - 1])) return null
  const window = s.slice(i, end)
  // Longest valid number suffix of the window: thousands-grouped, plain, or a fraction.
  const m = /(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:\/\d+)?$/.exec(window)
  let text = m === null ? "" : m[0]
  if (text.startsWith("/")) text = text.slice(1)
  if (text === "" || !/\d/.test(text)) return null
  const start = end - text.length
  const before = s[start - 1]
  const beforeThat = s[start - 2]
  if ((before === "-" || before === "\u2212") && !(isDigit(beforeThat) || /[A-Za-z)]/.test(beforeThat ?? ""))) {
    text = `-${text}`
  }
  if (s[end] === "%") text += "%"
  return { text, start, end }
}

/** Index of the last `$` at or before `from` that is not `\$`, or -1. */
const lastDollar = (s: string, from: number): number => {
  let k = s.lastIndexOf("$", from)
  while (k > 0 && s[k - 1] === "\\") k = s.lastIndexOf("$", k - 2)
  return k
}

/** The last `$..$`, `$$..$$`, `\(..\)` or `\[..\]` span of the text (its inner text), or `null`. */
const lastMathSpan = (s: string): { readonly text: string; readonly start: number; readonly end: number } | null => {
  let best: { text: string; start: number; end: number } | null = null
  const consider = (start: number, innerStart: number, innerEnd: number, end: number) => {
    if (start < 0 || innerEnd - innerStart > MAX_ANSWER_CHARS || innerEnd <= innerStart) return
    if (best === null || end > best.end) best = { text: s.slice(innerStart, innerEnd), start, end }
  }
  for (const [open, close] of [["\\[", "\\]"], ["\\(", "\\)"]] as const) {
    const c = s.lastIndexOf(close)
    if (c !== -1) {
      const o = s.lastIndexOf(open, c)
      if (o !== -1) consider(o, o + 2, c, c + 2)
    }
  }
  const c = lastDollar(s, s.length - 1)
  if (c > 0) {
    if (s[c - 1] === "$") {
      const o = s.lastIndexOf("$$", c - 2)
      if (o !== -1) consider(o, o + 2, c - 1, c + 1)
    } else {
      const o = lastDollar(s, c - 1)
      if (o !== -1 && s[o - 1] !== "$") consider(o, o + 1, c, c + 1)
    }
  }
  return best
}

/**
 * Answer candidates in priority order (several spans per phrase); the unanchored ones (last math
 * span, last number) come last, and `MathAnswer.extract` uses them only when no phrase or box gave
 * a usable answer.
 */
export const candidates = (completion: string, maxScanChars: number): Array<Candidate> => {
  const s = completion.length > maxScanChars ? completion.slice(completion.length - maxScanChars) : completion
  const out: Array<Candidate> = []
  const finalEnd = lastMatchEnd(FINAL_ANSWER, s)
  const boxed = lastBoxGroup(s)
  // A box written after the last "final answer is" is the later decision ("...final answer is 5?
  // Wait... \boxed{6}"): it goes first. A box inside the phrase's span reads the same either way.
  const boxFirst = boxed !== null && boxed.start >= finalEnd
  if (boxFirst) out.push({ source: "boxed", text: boxed.text })
  if (finalEnd !== -1) for (const text of readSpan(s, finalEnd)) out.push({ source: "final-answer", text })
  if (boxed !== null && !boxFirst) out.push({ source: "boxed", text: boxed.text })
  const phraseEnd = lastMatchEnd(ANSWER_PHRASE, s)
  if (phraseEnd !== -1) for (const text of readSpan(s, phraseEnd)) out.push({ source: "answer-phrase", text })
  // Unanchored: the last math span when it holds the last number ("... is $\frac{2}{3}$."), and
  // the last number itself.
  const n = lastNumberAt(s)
  const span = lastMathSpan(s)
  if (span !== null && (n === null || (n.start >= span.start && n.end <= span.end))) {
    out.push({ source: "last-math", text: span.text })
  }
  if (n !== null) out.push({ source: "last-number", text: n.text })
  return out
}
