/**
 * String-level work on answers before parsing: the last balanced `\boxed{...}`, math delimiters,
 * and the cleaning that turns `\dfrac12\text{ cm}` into `\frac12`. Every routine here is a single
 * pass or a fixed number of linear regex passes (no nested quantifiers), so its time is linear in
 * the input, and callers cap the input length first.
 */

/** Longest answer (characters) that is cleaned and parsed; longer ones are compared as raw text. */
export const MAX_ANSWER_CHARS = 2000

const BOX_COMMANDS = ["\\boxed", "\\fbox"] as const

interface Box {
  /** Index of the box command's backslash. */
  readonly command: number
  /** Index of the first content character. */
  readonly start: number
  /** Index just past the box (past its closing brace). */
  readonly end: number
  readonly text: string
}

/**
 * Every `\boxed{...}` / `\fbox{...}` whose braces balance, and every `\boxed 5` (no braces), in
 * order. One pass with a brace stack: linear even for `\boxed{` repeated 100k times with no
 * closing brace. Escaped braces `\{ \}` are content, not grouping.
 */
const BACKSLASH = 92
const OPEN = 123
const CLOSE = 125
const isAsciiLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)

const boxes = (s: string): Array<Box> => {
  const opens: Array<number> = [] // `{` right after a box command ...
  const commands: Array<number> = [] // ... and that command's index
  const out: Array<Box> = []
  for (const cmd of BOX_COMMANDS) {
    let at = s.indexOf(cmd)
    while (at !== -1) {
      let j = at + cmd.length
      if (!isAsciiLetter(s.charCodeAt(j))) {
        while (s.charCodeAt(j) === 32) j++
        if (s.charCodeAt(j) === OPEN) {
          opens.push(j)
          commands.push(at)
        } else if (j > at + cmd.length && j < s.length && s[j] !== "\\" && s[j] !== "$") {
          let end = j
          while (end < s.length && !/[\s$]/.test(s[end]!)) end++
          out.push({ command: at, start: j, end, text: s.slice(j, end) })
        }
      }
      at = s.indexOf(cmd, at + cmd.length)
    }
  }
  if (opens.length > 0) {
    // Position -> command index + 1 (0: not a box's brace); a typed array, as a Map of 10^4
    // entries costs milliseconds on a hostile megabyte.
    const commandAt = new Int32Array(s.length + 1)
    opens.forEach((open, k) => (commandAt[open] = commands[k]! + 1))
    const stack: Array<number> = []
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i)
      if (ch === BACKSLASH) {
        i++ // skip the escaped char: `\{`, `\}`, `\\`
        continue
      }
      if (ch === OPEN) stack.push(i)
      else if (ch === CLOSE) {
        const open = stack.pop()
        const command = open === undefined ? 0 : commandAt[open]!
        if (command > 0) out.push({ command: command - 1, start: open! + 1, end: i + 1, text: s.slice(open! + 1, i) })
      }
    }
  }
  return out.sort((a, b) => a.start - b.start)
}

/** Content of the last balanced box, or `null`. */
export const lastBoxed = (s: string): string | null => lastBoxedAt(s)?.text ?? null

/** The last balanced box with its content's start index. */
export const lastBoxedAt = (s: string): { readonly start: number; readonly text: string } | null => {
  const all = boxes(s)
  return all.length === 0 ? null : all[all.length - 1]!
}

/**
 * What may stand between boxes listed as one answer: `\boxed{2}, \boxed{3}`, `$\boxed{2}$ and
 * $\boxed{3}$`, boxes with only spaces or line breaks between them, and a short assignment before
 * the next box (`x = \boxed{1}, y = \boxed{2}`). Prose between boxes keeps them apart.
 */
const BOX_LIST_GAP =
  /^[\s$]*(?:(?:,|;|\band\b|\bor\b|\\text\{\s*(?:and|or)\s*\}|\\quad)[\s$]*)?(?:[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=\s*[\s$]*)?$/

/**
 * The last box, joined with the boxes right before it when they are listed with a comma, "and" or
 * "or" between them (one answer boxed piece by piece): `\boxed{2}, \boxed{3}` gives `2, 3`.
 * Boxes separated by prose or by whitespace alone (a repeated final answer) are not joined.
 */
export const lastBoxGroup = (s: string): { readonly start: number; readonly text: string } | null => {
  const all = boxes(s)
  if (all.length === 0) return null
  let k = all.length - 1
  const texts = [all[k]!.text]
  while (k > 0 && texts.length < 16) {
    const prev = all[k - 1]!
    const gap = s.slice(prev.end, all[k]!.command)
    if (prev.end > all[k]!.command || gap.length > 40 || !BOX_LIST_GAP.test(gap)) break
    // The same answer boxed twice in a row is one answer, not a list.
    if (!texts.includes(prev.text)) texts.unshift(prev.text)
    k--
  }
  return { start: all[k]!.start, text: texts.join(", ") }
}

/** Removes one layer of `$$..$$`, `$..$`, `\(..\)`, `\[..\]` around the whole string, repeatedly. */
export const stripDelimiters = (s: string): string => {
  for (let guard = 0; guard < 8; guard++) {
    const t = s.trim()
    let inner: string | null = null
    if (t.length >= 4 && t.startsWith("$$") && t.endsWith("$$")) inner = t.slice(2, -2)
    else if (t.length >= 2 && t.startsWith("$") && t.endsWith("$") && !t.startsWith("$$")) inner = t.slice(1, -1)
    else if (t.startsWith("\\(") && t.endsWith("\\)")) inner = t.slice(2, -2)
    else if (t.startsWith("\\[") && t.endsWith("\\]")) inner = t.slice(2, -2)
    if (inner === null) return t
    s = inner
  }
  return s.trim()
}

const UNICODE: ReadonlyArray<readonly [RegExp, string]> = [
  [/[\u2212\u2013\u2014\u2012\ufe63\uff0d]/g, "-"],
  [/\u00d7/g, "\\times "],
  [/\u00f7/g, "\\div "],
  [/[\u00b7\u22c5\u2219]/g, "\\cdot "],
  [/\u03c0/g, "\\pi "],
  [/\u221a/g, "\\sqrt"],
  [/\u221e/g, "\\infty "],
  [/\u2264/g, "\\le "],
  [/\u2265/g, "\\ge "],
  [/\u2260/g, "\\ne "],
  [/\u2248/g, "\\approx "],
  [/\u00b1/g, "\\pm "],
  [/\u222a/g, "\\cup "],
  [/\u2208/g, "\\in "],
  [/\u00b2/g, "^2"],
  [/\u00b3/g, "^3"],
  [/\u00bd/g, "(1/2)"],
  [/\u00bc/g, "(1/4)"],
  [/\u00be/g, "(3/4)"],
  [/[\u00a0\u2009\u202f\u2007\u2002\u2003]/g, " "],
  [/\uff1a/g, ":"],
  [/\uff0c/g, ","]
]

/** Words that are math, never units, when they trail an answer. */
const MATH_WORDS = new Set([
  "pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "inf", "infty", "infinity",
  "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "and", "or"
])
/** Two-letter units that may trail a number (longer words are stripped whatever they are). */
const SHORT_UNITS = new Set(["cm", "mm", "km", "kg", "mg", "ml", "ft", "in", "yd", "mi", "hr", "lb", "oz", "sq"])
/** Short words inside unit phrases: "3/5 of the class", "2 to a box", "9 am". */
const SHORT_WORDS = new Set(["of", "to", "at", "on", "by", "an", "as", "per", "am", "pm"])

const TEXT_COMMAND = /\\(text|textbf|textit|textrm|textsf|texttt|textnormal|mbox|mathrm|mathbf|mathit|mathsf|mathtt|mathnormal|emph|bf|rm|it)\s*\{/g

/** Replaces `\text{..}`-like wrappers by their content (`and`/`or` become a comma). Linear. */
const unwrapTextCommands = (s: string): string => {
  let out = ""
  let last = 0
  TEXT_COMMAND.lastIndex = 0
  for (let m = TEXT_COMMAND.exec(s); m !== null; m = TEXT_COMMAND.exec(s)) {
    const open = m.index + m[0].length - 1
    let depth = 0
    let close = -1
    for (let i = open; i < s.length; i++) {
      if (s[i] === "\\") {
        i++
        continue
      }
      if (s[i] === "{") depth++
      else if (s[i] === "}" && --depth === 0) {
        close = i
        break
      }
    }
    if (close === -1) break
    const content = s.slice(open + 1, close)
    const word = content.trim().toLowerCase()
    out += s.slice(last, m.index) + (word === "and" || word === "or" ? "," : ` ${content} `)
    last = close + 1
    TEXT_COMMAND.lastIndex = close + 1
  }
  return out + s.slice(last)
}

/**
 * Drops trailing unit words ("5 cm^2", "18 apples", "60 miles per hour", "3 km/h") when what is
 * left still holds a digit; a word answer ("Tuesday") is left alone.
 */
const stripTrailingUnits = (s: string): string => {
  let t = s.trimEnd()
  let stripped = false
  for (let guard = 0; guard < 6; guard++) {
    t = t.replace(/[.\s]+$/, "")
    const m = /(^|[^A-Za-z\\])([A-Za-z]+(?:\/[A-Za-z]+)?)\s?(?:\^\s?\{?\d\}?)?$/.exec(t)
    if (m === null) break
    const word = m[2]!
    const lower = word.toLowerCase()
    if (MATH_WORDS.has(lower)) break
    const before = t.slice(0, m.index + m[1]!.length)
    const spaced = /\s$/.test(before)
    const isUnit = word.includes("/") || word.length >= 3 || SHORT_UNITS.has(lower) || SHORT_WORDS.has(lower)
    // Unspaced only right after a digit and only a real unit or a long word: "5cm", "3cups", not "2xy".
    const attached = /\d$/.test(before) && (word.length >= 3 || SHORT_UNITS.has(lower))
    if (!isUnit || (!spaced && !attached)) break
    if (!/\d/.test(before)) break
    t = before
    stripped = true
  }
  return stripped ? t.trimEnd() : s
}

/**
 * Cleans one answer for parsing: unicode, last `\boxed{}`, delimiters, `\left \right`, spacing,
 * `\dfrac`, degrees, percent, currency, `\text{}` and trailing units. Returns the cleaned text, or
 * `null` when the answer (its last box, if it has one) is longer than `MAX_ANSWER_CHARS`.
 */
export const clean = (raw: string): string | null => {
  let s = raw
  const boxed = lastBoxed(s)
  if (boxed !== null) s = boxed
  if (s.length > MAX_ANSWER_CHARS) return null
  for (const [re, to] of UNICODE) s = s.replace(re, to)
  s = stripDelimiters(s)
  s = s
    // MATH-style thousands `11,\! 111,\! 100`: the comma before `\!` and three digits groups.
    .replace(/(\d),\s?\\!\s?(?=\d{3}(?!\d))/g, "$1,")
    .replace(/\\\$/g, " ")
    .replace(/\$/g, " ")
    .replace(/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])/g, " ")
    .replace(/\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])\s*\.?/g, "")
    // `\\` (a row break) is one unit: never read its second backslash as `\ ` or `\!`.
    .replace(/\\(\\|[,:; !])/g, (_m, c: string) => (c === "\\" ? "\\\\" : c === "!" ? "" : " "))
    .replace(/\\(?:quad|qquad|enspace|thinspace|medspace|thickspace|space)(?![A-Za-z])/g, " ")
    .replace(/~/g, " ")
    .replace(/\{,\}/g, ",")
    .replace(/\\[dtc]frac(?![A-Za-z])/g, "\\frac")
    .replace(/\\[dt]binom(?![A-Za-z])/g, "\\binom")
    // Degrees, with a Celsius/Fahrenheit letter after them: 30^\circ, 30^{\circ}, 30°, 45^\circ C,
    // become the parser's `\degreemark`.
    .replace(
      /(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])|\u00b0)(?:\s?(?:\\(?:text|mathrm)\s*\{\s*[CF]\s*\}|[CF](?![A-Za-z])))?/g,
      "\\degreemark "
    )
    .replace(/\\%/g, "%")
    .replace(/\bpercent\b/gi, "%")
  s = unwrapTextCommands(s)
  s = s.replace(/\bdegrees?\b/gi, "\\degreemark ")
  s = stripTrailingUnits(s)
  s = s
    .replace(/\s+/g, " ")
    .trim()
    .replace(/(?:\\\\|[.,;:])+$/, "")
    .trim()
  return s
}

/** Text comparison key for answers that do not parse as math: no spaces, no braces, lower case. */
export const textKey = (raw: string): string => {
  const cleaned = clean(raw)
  if (cleaned === null) return raw.trim()
  const s = cleaned.replace(/\\degreemark|[\s{}]/g, "").toLowerCase()
  const letter = /^\(([a-z])\)$/.exec(s)
  return letter !== null ? letter[1]! : s
}
