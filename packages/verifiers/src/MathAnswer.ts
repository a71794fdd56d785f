/**
 * Math-answer checking: extract the final answer from a completion and compare it with the gold
 * answer by value, in the manner of HF math-verify and the MATH/GSM8K graders of verl
 * (REFERENCE.md "Answer checking"). Pure and synchronous; `Verifier` wraps it as an Effect service.
 *
 * Accepted forms (docs/verifiers.md lists them with the choices made): integers, decimals,
 * thousands separators, fractions (`1/2`, `\frac12`, `\dfrac{1}{2}`), mixed numbers, `\sqrt`,
 * `\pi`, `e`, `i`, percent, units and `^\circ`, `x = 5`, symbolic expressions, tuples, intervals,
 * sets, unions, matrices, relations, `\pm`. Parsing is a hand-written LaTeX parser; numbers are
 * exact rationals (BigInt) or complex floats (`internal/Complex`); nothing is ever passed to `eval`.
 */
import { type Candidate, candidates, type Source } from "./internal/AnswerExtraction.js"
import { clean, lastBoxed, MAX_ANSWER_CHARS, stripDelimiters, textKey } from "./internal/LatexText.js"
import { Budget, exact } from "./internal/Evaluation.js"
import { decide, defaultTolerance } from "./internal/MathCompare.js"
import { type MathNode, toText } from "./internal/MathNode.js"
import { parse } from "./internal/MathParser.js"
import * as Rational from "./internal/Rational.js"

export type { Source } from "./internal/AnswerExtraction.js"

export interface Options {
  /** Only the last this many characters of a completion are searched (default 100 000). */
  readonly maxScanChars?: number
  /**
   * Tolerance when a side is a decimal approximation (default absolute 5e-7, i.e. agreement to 6
   * decimal places as math-verify's `float_rounding=6`; relative 1e-12). Pass `{ absolute: 0,
   * relative: 1e-4 }` for the Qwen / prime_math `isclose(rel_tol=1e-4)` convention.
   */
  readonly tolerance?: { readonly absolute: number; readonly relative: number }
  /** Work units (evaluated nodes) one comparison may spend before it answers `false` (default 200 000). */
  readonly budget?: number
  /**
   * Milliseconds one comparison may take before it grades the row wrong with reason "timeout"
   * (default 200: rows take well under 10 ms, so only a runaway or a stalled machine reaches it).
   * The clock is read inside the evaluator, so it bounds work, not only waiting.
   */
  readonly timeoutMs?: number
  /**
   * Relaxed grading (default `false`, Math-Verify's `strict=True`). When `true`, as Math-Verify's
   * `strict=False`: variables may carry other names (`2y` = `2x`, `f(t) = t^2` = `f(x) = x^2`), any
   * tuple compares with a set in any order (`(3, 1)` = `\{1, 3\}`), and a gold equation against a
   * predicted value is read as its last side even when its left side is not a name
   * (`a + b = 10` = `10`).
   */
  readonly relaxed?: boolean
}

export const DEFAULT_MAX_SCAN_CHARS = 100_000
export const DEFAULT_BUDGET = 200_000
export const DEFAULT_TIMEOUT_MS = 200

/** Longest answer that is parsed; longer ones only match a byte-identical gold. */
export const MAX_ANSWER_LENGTH = MAX_ANSWER_CHARS

export interface Extraction {
  readonly answer: string
  readonly source: Source
}

/** Does the candidate parse as math (not only as text)? */
const parses = (text: string): boolean => {
  const cleaned = clean(text)
  return cleaned !== null && parse(cleaned) !== null
}

/** At most 4 words and 40 characters: a word answer rather than a sentence of prose. */
const isShortText = (text: string): boolean => {
  const t = text.trim()
  return t !== "" && t.length <= 40 && t.split(/\s+/).length <= 4
}

/**
 * The answer and where it came from: the first candidate (final-answer phrase, last box,
 * answer phrase) that parses as math, else the first short text candidate, else the whole
 * completion when it is one short line of math (`2π`), else the last math span holding the last
 * number, else the last number, else the first candidate as text, else the last math span as
 * text, else the whole completion when it is a short word answer ("odd").
 * A completion with a `</think>` (or OpenThoughts' `<|end_of_thought|>`) is read after the last
 * one first; the reasoning is searched only when nothing after it reads as an answer.
 */
export const extractWithSource = (completion: string, options: Options = {}): Extraction | null => {
  for (const marker of REASONING_ENDS) {
    const end = completion.lastIndexOf(marker)
    if (end === -1) continue
    const after = extractFrom(completion.slice(end + marker.length), options)
    if (after !== null) return after
  }
  return extractFrom(completion, options)
}

/** Tags that close a model's reasoning, before its answer. */
const REASONING_ENDS = ["</think>", "<|end_of_thought|>"] as const

const extractFrom = (completion: string, options: Options): Extraction | null => {
  const found = candidates(completion, options.maxScanChars ?? DEFAULT_MAX_SCAN_CHARS)
  const anchored = found.filter((c) => c.source !== "last-number" && c.source !== "last-math")
  const lastMath = found.find((c) => c.source === "last-math")
  const lastNumber = found.find((c) => c.source === "last-number")
  // A phrase or box that reads as math wins; else a short text answer ("Tuesday", "(C)"); else
  // the last math span or number (a long unparsable phrase, "the answer is not obvious until
  // ...", is prose); else a math span that is text (`$\text{Devon}$`).
  const chosen = anchored.find((c) => parses(c.text)) ??
    anchored.find((c) => isShortText(c.text)) ??
    wholeShortMath(completion) ??
    (lastMath !== undefined && parses(lastMath.text) ? lastMath : undefined) ??
    lastNumber ??
    anchored.find((c) => c.text.trim() !== "") ??
    lastMath ??
    wholeShortText(completion)
  if (chosen === undefined) return null
  const boxed = lastBoxed(chosen.text)
  let answer = stripDelimiters(boxed ?? chosen.text)
  // A lone leading "$" before a number is currency, not a math delimiter.
  if (/^\$\s?[\d.]/.test(answer) && answer.indexOf("$", 1) === -1) answer = answer.slice(1).trim()
  return answer === "" ? null : { answer, source: chosen.source }
}

/** A completion that is only a short piece of math (`√2`, `2π`, `x ≤ 3`, `3 + 4 = 7`) is its own answer. */
const wholeShortMath = (completion: string): Candidate | undefined => {
  if (completion.length > 1000) return undefined
  const t = completion.trim()
  return t.length <= 100 && !t.includes("\n") && parses(t) ? { source: "whole", text: t } : undefined
}

/** A completion that is only a short word answer ("odd", "Tuesday") is its own answer. */
const wholeShortText = (completion: string): Candidate | undefined => {
  if (completion.length > 1000) return undefined
  const t = completion.trim()
  return t.length <= 40 && isShortText(t) && /^[A-Za-z][A-Za-z ()'-]*$/.test(t) ? { source: "whole", text: t } : undefined
}

/** The final answer of a completion (raw text, box removed), or `null` if there is none. */
export const extract = (completion: string, options: Options = {}): string | null =>
  extractWithSource(completion, options)?.answer ?? null

/**
 * Canonical text of an answer: the exact value for rational answers (`\dfrac{2}{4}` -> `1/2`,
 * `7,425,000` -> `7425000`), the parsed expression otherwise (`\frac{\sqrt{2}}{2}` -> `sqrt(2)/2`),
 * or a cleaned lower-case string for answers that are not math (`\text{Tuesday}` -> `tuesday`).
 */
export const normalize = (answer: string): string => {
  const cleaned = clean(answer)
  if (cleaned === null) return answer.trim()
  const node = parse(cleaned)
  if (node === null) return textKey(answer)
  try {
    const value = node.kind === "percent" ? null : exact(node, new Budget(DEFAULT_BUDGET))
    if (value !== null) return Rational.toString(value)
  } catch {
    // budget exceeded: fall through to the expression text
  }
  return toText(node)
}

interface Resolved {
  /** The answer text used (the input, or the answer anchored inside it). */
  readonly text: string
  readonly cleaned: string | null
  readonly node: MathNode | null
}

/**
 * An answer string ready to compare: cleaned and parsed; when it does not parse as math but holds
 * an anchored answer (a box, "#### 72", "The answer is 5"), that answer instead, so a GSM8K
 * `answer` field or a MATH solution can serve as the gold.
 */
const resolve = (text: string): Resolved => {
  const cleaned = clean(text)
  const node = cleaned === null ? null : parse(cleaned)
  if (node !== null) return { text, cleaned, node }
  for (const c of candidates(text, DEFAULT_MAX_SCAN_CHARS)) {
    if (c.source === "last-number") continue
    const inner = clean(c.text)
    const innerNode = inner === null ? null : parse(inner)
    if (innerNode !== null) return { text: c.text, cleaned: inner, node: innerNode }
  }
  return { text, cleaned, node: null }
}

/** `1,22` read with a decimal comma (only `d,d` or `d,dd`: `1,234` is a thousands group). */
const DECIMAL_COMMA = /^-?\d+,\d{1,2}$/

const isDecimalLiteral = (n: MathNode | null): boolean =>
  n !== null && (n.kind === "num" ? n.decimal : n.kind === "neg" && isDecimalLiteral(n.arg))

/** The outcome of comparing two answers: equal or not, and the test that decided. */
export interface Comparison {
  readonly equal: boolean
  /** The answer read from the gold (a box or `#### N` inside a solution, else the gold itself). */
  readonly gold: string
  readonly rule: string
}

/**
 * Compares a predicted answer with a gold answer (either may be prose holding an anchored answer)
 * and says which rule decided: identical text, a value rule (exact rational, decimal within
 * tolerance, symbolic at sample points, ...), a container rule, or "timeout".
 */
export const compare = (pred: string, gold: string, options: Options = {}): Comparison => {
  const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const p = pred.trim()
  const g = gold.trim()
  if (p === "" || g === "") return { equal: false, gold: g, rule: "empty answer" }
  if (p === g) return { equal: true, gold: g, rule: "identical text" }
  const rp = resolve(p)
  const rg = resolve(g)
  if (rp.cleaned === null || rg.cleaned === null) return { equal: false, gold: rg.text, rule: "answer too long to parse" }
  if (rp.cleaned === rg.cleaned && rp.cleaned !== "") return { equal: true, gold: rg.text, rule: "same cleaned text" }
  if (rp.node !== null && rg.node !== null) {
    const rules = { tolerance: options.tolerance ?? defaultTolerance, relaxed: options.relaxed ?? false }
    const budget = new Budget(options.budget ?? DEFAULT_BUDGET, deadline)
    const d = decide(rp.node, rg.node, rules, budget)
    if (d.equal || d.rule === "timeout") return { equal: d.equal, gold: rg.text, rule: d.rule }
    // A decimal comma, `1,22` against `1.22`, when the other side is a decimal number.
    for (const [side, other, swap] of [[rp, rg, false], [rg, rp, true]] as const) {
      if (DECIMAL_COMMA.test(side.cleaned!) && isDecimalLiteral(other.node)) {
        const reread = parse(side.cleaned!.replace(",", "."))
        if (reread === null) continue
        const [a, b] = swap ? [other.node!, reread] : [reread, other.node!]
        const dc = decide(a, b, rules, budget)
        if (dc.equal) return { equal: true, gold: rg.text, rule: `decimal comma, ${dc.rule}` }
      }
    }
    return { equal: false, gold: rg.text, rule: d.rule }
  }
  const kp = textKey(rp.text)
  return { equal: kp !== "" && kp === textKey(rg.text), gold: rg.text, rule: "text" }
}

/**
 * Does `pred` denote the same answer as `gold`? Both are answers (a prose answer with a box or an
 * answer phrase is reduced to that answer first). Symmetric except for Math-Verify's equation
 * rule: a predicted equation is read as its last side, a gold one only when it names a variable.
 */
export const equivalent = (pred: string, gold: string, options: Options = {}): boolean =>
  compare(pred, gold, options).equal

export interface CheckResult {
  readonly correct: boolean
  readonly extracted: string | null
  /** Why it is wrong, or where the answer came from. */
  readonly reason?: string
  /** The answer read from the gold (`--explain`). */
  readonly gold?: string
  /** The test that decided (`--explain`): "identical text", "exact rational value", "timeout", ... */
  readonly rule?: string
}

/**
 * Extracts the answer of a completion and compares it with the gold answer. Never throws: an
 * internal failure grades the row wrong with the failure as its reason.
 */
export const check = (completion: string, gold: string, options: Options = {}): CheckResult => {
  try {
    const found = extractWithSource(completion, options)
    if (found === null) return { correct: false, extracted: null, reason: "no answer found", gold: gold.trim(), rule: "no answer" }
    const c = compare(found.answer, gold, options)
    const reason = c.rule === "timeout" || c.rule === "work budget exhausted"
      ? `${c.rule} (${found.source})`
      : c.equal ? `matched (${found.source})` : `mismatch (${found.source})`
    return { correct: c.equal, extracted: found.answer, reason, gold: c.gold, rule: c.rule }
  } catch (e) {
    return { correct: false, extracted: null, reason: `internal error: ${e instanceof Error ? e.message : String(e)}`, rule: "internal error" }
  }
}
