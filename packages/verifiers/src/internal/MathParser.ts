/**
 * A recursive-descent parser for the LaTeX and plain-text math that answers are written in
 * (`\frac{\sqrt3}{2}`, `2\pi r^2`, `(-\infty, 3] \cup (5, \infty)`, `\begin{pmatrix}1\\2\end{pmatrix}`,
 * `x = 5`, `1,234,567`, `0.\overline{3}`). It builds a `MathNode`, never evaluates code, and gives up
 * (returns `null`) on anything it does not know, so the caller can fall back to text comparison.
 * Input is cleaned first (`LatexText.clean`) and capped in length; nesting and node counts are
 * capped here, so the work is linear in the (short) input.
 */
import type { MathNode, RelOp } from "./MathNode.js"
import * as Rational from "./Rational.js"

/** Deepest bracket / call nesting accepted. */
export const MAX_DEPTH = 60
/** Most tree nodes accepted. */
export const MAX_NODES = 600

type Token =
  | {
    readonly t: "num"
    readonly int: string
    readonly frac: string
    readonly rep: string
    readonly exp: number
    readonly decimal: boolean
  }
  | { readonly t: "id"; readonly v: string }
  | { readonly t: "cmd"; readonly v: string }
  | { readonly t: "sym"; readonly v: string }

class ParseFailure extends Error {}

const fail = (why: string): never => {
  throw new ParseFailure(why)
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9"
const isLetter = (c: string | undefined): boolean =>
  c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"))

/** Reads digits starting at i; returns the end index. */
const digitsEnd = (s: string, i: number): number => {
  while (isDigit(s[i])) i++
  return i
}

/** Tokenizes cleaned answer text. Thousands separators (`1,234` and `1 234`) join into one number. */
const tokenize = (s: string): Array<Token> => {
  const out: Array<Token> = []
  let i = 0
  while (i < s.length) {
    const c = s[i]!
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++
      continue
    }
    if (isDigit(c) || (c === "." && isDigit(s[i + 1]))) {
      let end = digitsEnd(s, i)
      let int = s.slice(i, end)
      // Thousands groups: a first group of 1-3 digits (not a leading 0), then `,ddd` or ` ddd`
      // groups of exactly three digits; "1,2" and "(0,100)" stay lists.
      if (int.length >= 1 && int.length <= 3 && int[0] !== "0") {
        for (const sep of [",", " "]) {
          let k = end
          let grouped = ""
          while (s[k] === sep && isDigit(s[k + 1]) && isDigit(s[k + 2]) && isDigit(s[k + 3]) && !isDigit(s[k + 4])) {
            grouped += s.slice(k + 1, k + 4)
            k += 4
          }
          if (grouped !== "") {
            int += grouped
            end = k
            break
          }
        }
      }
      i = end
      let frac = ""
      let rep = ""
      let decimal = false
      if (s[i] === "." && isDigit(s[i + 1])) {
        const fe = digitsEnd(s, i + 1)
        frac = s.slice(i + 1, fe)
        i = fe
        decimal = true
      } else if (s[i] === "." && s.startsWith("\\overline", i + 1)) {
        i++
        decimal = true
      }
      const over = /^\\overline\s*\{(\d{1,40})\}/.exec(s.slice(i, i + 60))
      if (decimal && over !== null) {
        rep = over[1]!
        i += over[0].length
      }
      let exp = 0
      const sci = /^[eE]([+-]?)(\d{1,4})(?![A-Za-z0-9])/.exec(s.slice(i, i + 8))
      if (sci !== null && (int !== "" || frac !== "")) {
        exp = Number(sci[2]) * (sci[1] === "-" ? -1 : 1)
        i += sci[0].length
        decimal = true
      }
      out.push({ t: "num", int, frac, rep, exp, decimal })
      continue
    }
    if (isLetter(c)) {
      let e = i
      while (isLetter(s[e])) e++
      out.push({ t: "id", v: s.slice(i, e) })
      i = e
      continue
    }
    if (c === "\\") {
      if (isLetter(s[i + 1])) {
        let e = i + 1
        while (isLetter(s[e])) e++
        out.push({ t: "cmd", v: s.slice(i + 1, e) })
        i = e
      } else {
        out.push({ t: "cmd", v: s[i + 1] ?? "" })
        i += 2
      }
      continue
    }
    out.push({ t: "sym", v: c })
    i++
  }
  return out
}

const FUNCTIONS = new Set([
  "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
  "ln", "log", "exp", "abs", "sqrt", "floor", "ceil", "gcd", "lcm", "max", "min"
])

/** Two-letter words that are English, not a product of two variables ("No" is not N*o). */
const ENGLISH_TWO_LETTER = new Set([
  "no", "is", "it", "at", "on", "an", "as", "be", "by", "do", "go", "if", "in", "me", "my", "of", "so", "to",
  "up", "us", "we", "am", "pm", "ok"
])

const INVERSE_TRIG: Record<string, string> = { sin: "arcsin", cos: "arccos", tan: "arctan" }

const GREEK = new Set([
  "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
  "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
  "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"
])

const REL_COMMANDS: Record<string, RelOp> = {
  le: "<=", leq: "<=", leqslant: "<=", ge: ">=", geq: ">=", geqslant: ">=", lt: "<", gt: ">",
  ne: "!=", neq: "!=", approx: "~=", equiv: "="
}

const num = (value: Rational.Rational, decimal = false): MathNode => ({ kind: "num", value, decimal })

class Parser {
  private pos = 0
  private depth = 0
  private nodes = 0

  constructor(private readonly toks: Array<Token>) {}

  private peek(offset = 0): Token | undefined {
    return this.toks[this.pos + offset]
  }
  private isSym(v: string, offset = 0): boolean {
    const t = this.peek(offset)
    return t !== undefined && t.t === "sym" && t.v === v
  }
  private isCmd(v: string, offset = 0): boolean {
    const t = this.peek(offset)
    return t !== undefined && t.t === "cmd" && t.v === v
  }
  private isWord(v: string): boolean {
    const t = this.peek()
    return t !== undefined && t.t === "id" && t.v === v
  }
  private expectSym(v: string): void {
    if (!this.isSym(v)) fail(`expected ${v}`)
    this.pos++
  }
  private node<N extends MathNode>(n: N): N {
    if (++this.nodes > MAX_NODES) fail("too many nodes")
    return n
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH) fail("nested too deeply")
  }
  private leave(): void {
    this.depth--
  }

  parseTop(): MathNode {
    // "x \in [0, 1]" and "x \in \{1, 2\}": the membership names the answer.
    if (this.peek()?.t === "id" && this.isCmd("in", 1)) this.pos += 2
    const items = [this.parseRelation()]
    while (this.isSym(",") || this.isSym(";") || this.isWord("and") || this.isWord("or")) {
      this.pos++
      if (this.pos >= this.toks.length) break // trailing comma
      items.push(this.parseRelation())
    }
    if (this.pos < this.toks.length) fail("trailing input")
    return items.length === 1 ? items[0]! : this.node({ kind: "list", items })
  }

  private relOp(): RelOp | null {
    const t = this.peek()
    if (t === undefined) return null
    if (t.t === "sym") {
      if (t.v === "=") return "="
      if (t.v === "<") return this.isSym("=", 1) ? (this.pos++, "<=") : "<"
      if (t.v === ">") return this.isSym("=", 1) ? (this.pos++, ">=") : ">"
      if (t.v === "!" && this.isSym("=", 1)) return (this.pos++, "!=")
      return null
    }
    if (t.t === "cmd") return REL_COMMANDS[t.v] ?? null
    return null
  }

  private parseRelation(): MathNode {
    const sides = [this.parseRatio()]
    const ops: Array<RelOp> = []
    for (let op = this.relOp(); op !== null; op = this.relOp()) {
      this.pos++
      ops.push(op)
      sides.push(this.parseRatio())
    }
    return ops.length === 0 ? sides[0]! : this.node({ kind: "rel", ops, sides })
  }

  /** A ratio `7:32` is the quotient 7/32 (so `7:32` = `14:64` = `\frac{7}{32}`); one colon at most. */
  private parseRatio(): MathNode {
    const left = this.parseUnion()
    if (!this.isSym(":") || this.peek(1) === undefined) return left
    this.pos++
    return this.node({ kind: "div", left, right: this.parseUnion() })
  }

  private parseUnion(): MathNode {
    const items = [this.parseSum()]
    while (this.isCmd("cup") || this.isWord("U")) {
      this.pos++
      items.push(this.parseSum())
    }
    return items.length === 1 ? items[0]! : this.node({ kind: "union", items })
  }

  private parseSum(): MathNode {
    let left = this.parseTerm()
    for (;;) {
      if (this.isSym("+")) {
        this.pos++
        left = this.node({ kind: "add", left, right: this.parseTerm() })
      } else if (this.isSym("-")) {
        this.pos++
        left = this.node({ kind: "sub", left, right: this.parseTerm() })
      } else if (this.isCmd("pm") || this.isCmd("mp")) {
        const sign = this.isCmd("pm") ? 1 : -1
        this.pos++
        left = this.node({ kind: "pm", left, right: this.parseTerm(), sign })
      } else return left
    }
  }

  /** Can the next token start a factor written by juxtaposition (`2x`, `3\sqrt2`, `(a)(b)`)? */
  private startsImplicitFactor(): boolean {
    const t = this.peek()
    if (t === undefined) return false
    switch (t.t) {
      case "num":
        return false // "2 3" is not a product: give up rather than guess
      case "id":
        return t.v !== "and" && t.v !== "or" && t.v !== "U"
      case "cmd":
        return t.v === "frac" || t.v === "sqrt" || t.v === "binom" || t.v === "pi" || t.v === "infty" ||
          GREEK.has(t.v) || FUNCTIONS.has(t.v) || t.v === "operatorname" || t.v === "lvert" ||
          t.v === "lfloor" || t.v === "lceil" || t.v === "mathbf" || t.v === "vec" || t.v === "overline"
      case "sym":
        return t.v === "("
    }
  }

  private parseTerm(): MathNode {
    let left = this.parseUnary()
    for (;;) {
      const t = this.peek()
      if (t === undefined) return left
      if ((t.t === "sym" && t.v === "*") || (t.t === "cmd" && (t.v === "cdot" || t.v === "times" || t.v === "ast"))) {
        this.pos++
        left = this.node({ kind: "mul", left, right: this.parseUnary() })
      } else if ((t.t === "sym" && t.v === "/") || (t.t === "cmd" && t.v === "div")) {
        this.pos++
        left = this.node({ kind: "div", left, right: this.parseUnary() })
      } else if (this.startsImplicitFactor()) {
        const isFrac = t.t === "cmd" && t.v === "frac"
        const right = this.parsePower()
        // Mixed number: an integer written right before an integer fraction, "2\frac{1}{2}" = 5/2.
        const mixed = isFrac ? mixedNumber(left, right) : null
        left = mixed ?? this.node({ kind: "mul", left, right })
      } else return left
    }
  }

  private parseUnary(): MathNode {
    this.enter()
    try {
      if (this.isSym("-")) {
        this.pos++
        return this.node({ kind: "neg", arg: this.parseUnary() })
      }
      if (this.isSym("+")) {
        this.pos++
        return this.parseUnary()
      }
      if (this.isCmd("pm") || this.isCmd("mp")) {
        const sign = this.isCmd("pm") ? 1 : -1
        this.pos++
        return this.node({ kind: "pm", left: null, right: this.parseUnary(), sign })
      }
      return this.parsePower()
    } finally {
      this.leave()
    }
  }

  private parsePower(): MathNode {
    const base = this.parsePostfix()
    if (!(this.isSym("^") || this.isSym("*") && this.isSym("*", 1))) return base
    this.pos += this.isSym("^") ? 1 : 2
    this.enter()
    try {
      const exponent = this.parseExponent()
      return this.parsePostfixOf(this.node({ kind: "pow", left: base, right: exponent }))
    } finally {
      this.leave()
    }
  }

  /** `^{...}`, `^2`, `^-1`, `^x`, `^\pi`: LaTeX reads one token, but a whole number as latex2sympy does. */
  private parseExponent(): MathNode {
    if (this.isSym("{")) return this.parseBraced()
    if (this.isSym("-")) {
      this.pos++
      return this.node({ kind: "neg", arg: this.parseExponent() })
    }
    if (this.isSym("(")) return this.parseAtom()
    return this.parseAtom()
  }

  private parsePostfix(): MathNode {
    return this.parsePostfixOf(this.parseAtom())
  }

  private parsePostfixOf(n: MathNode): MathNode {
    for (;;) {
      if (this.isSym("!") && !this.isSym("=", 1)) {
        this.pos++
        n = this.node({ kind: "func", name: "factorial", args: [n] })
      } else if (this.isSym("%")) {
        this.pos++
        n = this.node({ kind: "percent", arg: n })
      } else if (this.isCmd("degreemark")) {
        this.pos++
        n = this.node({ kind: "degree", arg: n })
      } else if (this.isSym("'")) fail("primes")
      else return n
    }
  }

  /** `{ ... }` as a group. */
  private parseBraced(): MathNode {
    this.expectSym("{")
    this.enter()
    const inner = this.parseRelation()
    this.leave()
    this.expectSym("}")
    return inner
  }

  /** A LaTeX macro argument: a braced group, or a single token (one digit of a number: `\frac12`). */
  private parseArgument(): MathNode {
    if (this.isSym("{")) return this.parseBraced()
    const t = this.peek()
    if (t === undefined) return fail("missing argument")
    if (t.t === "num" && t.frac === "" && t.rep === "" && t.exp === 0 && t.int.length > 1) {
      // Split "12" into "1" and "2".
      this.toks.splice(this.pos, 1, { ...t, int: t.int.slice(0, 1) }, { ...t, int: t.int.slice(1) })
    }
    if (t.t === "id" && t.v.length > 1) {
      this.toks.splice(this.pos, 1, { t: "id", v: t.v.slice(0, 1) }, { t: "id", v: t.v.slice(1) })
    }
    return this.parseAtom()
  }

  private parseList(close: (t: Token | undefined) => boolean): Array<MathNode> {
    const items: Array<MathNode> = []
    if (close(this.peek())) return items
    items.push(this.parseRelation())
    while (this.isSym(",") || this.isSym(";")) {
      this.pos++
      items.push(this.parseRelation())
    }
    return items
  }

  private parseAtom(): MathNode {
    const t = this.peek()
    if (t === undefined) return fail("unexpected end")
    this.enter()
    try {
      return this.parseAtomToken(t)
    } finally {
      this.leave()
    }
  }

  private parseAtomToken(t: Token): MathNode {
    this.pos++
    switch (t.t) {
      case "num":
        return this.node(num(Rational.fromDecimal(t.int, t.frac, t.rep, t.exp), t.decimal))
      case "id":
        return this.parseWord(t.v)
      case "sym":
        return this.parseSymbolAtom(t.v)
      case "cmd":
        return this.parseCommand(t.v)
    }
  }

  private parseSymbolAtom(v: string): MathNode {
    if (v === "(" || v === "[") {
      const items = this.parseList((t) => t?.t === "sym" && (t.v === ")" || t.v === "]"))
      const closeTok = this.peek()
      if (closeTok === undefined || closeTok.t !== "sym" || (closeTok.v !== ")" && closeTok.v !== "]")) {
        return fail("unclosed bracket")
      }
      this.pos++
      const open = v as "(" | "["
      const close = closeTok.v as ")" | "]"
      if (items.length === 1 && open === "(" && close === ")") return items[0]!
      if (items.length === 1 && open === "[" && close === "]") return items[0]!
      if (items.length < 2) return fail("empty or half-open single bracket")
      return this.node({ kind: "tuple", open, close, items })
    }
    if (v === "{") {
      this.pos--
      return this.parseBraced()
    }
    if (v === "|") {
      const inner = this.parseSum()
      this.expectSym("|")
      return this.node({ kind: "func", name: "abs", args: [inner] })
    }
    return fail(`unexpected ${v}`)
  }

  /** Plain-text words: `sqrt(2)`, `pi`, `inf`, single letters and short products of letters. */
  private parseWord(w: string): MathNode {
    if (w === "pi") return this.node({ kind: "const", name: "pi" })
    if (w === "inf" || w === "infty" || w === "infinity" || w === "oo") return this.node({ kind: "const", name: "inf" })
    if (FUNCTIONS.has(w)) return this.parseFunction(w)
    if (w.length === 1) return this.variable(w)
    if (w.length === 2 && ENGLISH_TWO_LETTER.has(w.toLowerCase())) return fail(`word ${w}`)
    if (w.length === 2) {
      // "xy" is x*y: put the second letter back as its own token.
      this.toks.splice(this.pos, 0, { t: "id", v: w.slice(1) })
      return this.variable(w[0]!)
    }
    return fail(`word ${w}`)
  }

  /** A letter with an optional subscript: `x`, `x_1`, `a_{n+1}`; `e` and `i` are constants. */
  private variable(name: string): MathNode {
    if (this.isSym("_")) {
      this.pos++
      const sub = this.peek()
      if (sub === undefined) return fail("empty subscript")
      let text: string
      if (sub.t === "sym" && sub.v === "{") {
        const start = this.pos
        let depth = 0
        do {
          const k = this.peek()
          if (k === undefined) return fail("unclosed subscript")
          if (k.t === "sym" && k.v === "{") depth++
          if (k.t === "sym" && k.v === "}") depth--
          this.pos++
        } while (depth > 0)
        text = this.toks.slice(start + 1, this.pos - 1).map(tokenText).join("")
      } else {
        this.pos++
        text = tokenText(sub)
      }
      return this.node({ kind: "var", name: `${name}_${text}` })
    }
    if (name === "e") return this.node({ kind: "const", name: "e" })
    if (name === "i") return this.node({ kind: "const", name: "i" })
    return this.node({ kind: "var", name })
  }

  private parseFunction(name: string): MathNode {
    // Optional power on the function name (`\sin^2 x`) and base for logs (`\log_2 8`).
    let power: MathNode | null = null
    let base: MathNode | null = null
    for (let k = 0; k < 2; k++) {
      if (this.isSym("^") && power === null) {
        this.pos++
        power = this.parseExponent()
      } else if (this.isSym("_") && base === null && name === "log") {
        this.pos++
        base = this.parseArgument()
      }
    }
    let args: Array<MathNode>
    if (this.isSym("(")) {
      this.pos++
      args = this.parseList((t) => t?.t === "sym" && t.v === ")")
      this.expectSym(")")
    } else if (this.isSym("{")) {
      args = [this.parseBraced()]
    } else {
      args = [this.parseFunctionOperand()]
    }
    if (args.length === 0) return fail("function without argument")
    let canonical = name === "ln" ? "log" : name
    // \sin^{-1} x is arcsin x, not 1/sin x.
    if (power !== null && power.kind === "neg" && power.arg.kind === "num" && Rational.equals(power.arg.value, Rational.one) &&
      INVERSE_TRIG[canonical] !== undefined) {
      canonical = INVERSE_TRIG[canonical]!
      power = null
    }
    let call: MathNode
    if (canonical === "log" && base !== null) {
      if (args.length !== 1) return fail("log arity")
      call = this.node({
        kind: "div",
        left: this.node({ kind: "func", name: "log", args }),
        right: this.node({ kind: "func", name: "log", args: [base] })
      })
    } else {
      const arity = canonical === "gcd" || canonical === "lcm" || canonical === "max" || canonical === "min" ? -1 : 1
      if (arity === 1 && args.length !== 1) return fail(`${name} arity`)
      call = this.node({ kind: "func", name: canonical, args })
    }
    return power === null ? call : this.node({ kind: "pow", left: call, right: power })
  }

  /**
   * The argument of `\sin 2x`: factors written side by side (`2x`, `2\pi x`), stopping before
   * an operator or another function (`\sin x \cos y` is a product of two calls).
   */
  private parseFunctionOperand(): MathNode {
    let arg = this.parsePower()
    for (;;) {
      const t = this.peek()
      if (t === undefined || !this.startsImplicitFactor()) return arg
      if ((t.t === "cmd" || t.t === "id") && FUNCTIONS.has(t.v)) return arg
      if (t.t === "sym" && t.v === "(") return arg
      arg = this.node({ kind: "mul", left: arg, right: this.parsePower() })
    }
  }

  private parseCommand(v: string): MathNode {
    switch (v) {
      case "frac": {
        const a = this.parseArgument()
        const b = this.parseArgument()
        return this.node({ kind: "div", left: a, right: b })
      }
      case "sqrt": {
        if (this.isSym("[")) {
          this.pos++
          const index = this.parseSum()
          this.expectSym("]")
          return this.node({ kind: "func", name: "root", args: [this.parseArgument(), index] })
        }
        return this.node({ kind: "func", name: "sqrt", args: [this.parseArgument()] })
      }
      case "binom": {
        const n = this.parseArgument()
        const k = this.parseArgument()
        return this.node({ kind: "func", name: "binom", args: [n, k] })
      }
      case "pi":
        return this.node({ kind: "const", name: "pi" })
      case "infty":
      case "inf":
        return this.node({ kind: "const", name: "inf" })
      case "{": {
        // Set-builder `\{x \mid x > 0\}` (also `|`, `:`): the condition, which compares as the
        // interval it describes.
        const builder = this.peek()?.t === "id" && (this.isCmd("mid", 1) || this.isSym("|", 1) || this.isSym(":", 1))
        if (builder) {
          this.pos += 2
          const condition = this.parseRelation()
          if (!this.isCmd("}")) return fail("unclosed set-builder")
          this.pos++
          return condition
        }
        const items = this.parseList((t) => t?.t === "cmd" && t.v === "}")
        if (!this.isCmd("}")) return fail("unclosed set")
        this.pos++
        return this.node({ kind: "set", items })
      }
      case "langle": {
        // \langle 1, 2 \rangle: a vector, read as the tuple (1, 2).
        const items = this.parseList((t) => t?.t === "cmd" && t.v === "rangle")
        if (!this.isCmd("rangle")) return fail("unclosed angle bracket")
        this.pos++
        if (items.length < 2) return fail("angle bracket with one item")
        return this.node({ kind: "tuple", open: "(", close: ")", items })
      }
      case "emptyset":
      case "varnothing":
        return this.node({ kind: "set", items: [] })
      case "lvert":
      case "vert":
      case "|": {
        const inner = this.parseSum()
        if (!(this.isCmd("rvert") || this.isCmd("vert") || this.isCmd("|"))) return fail("unclosed abs")
        this.pos++
        return this.node({ kind: "func", name: "abs", args: [inner] })
      }
      case "lfloor":
      case "lceil": {
        const inner = this.parseSum()
        if (!this.isCmd(v === "lfloor" ? "rfloor" : "rceil")) return fail("unclosed floor/ceil")
        this.pos++
        return this.node({ kind: "func", name: v === "lfloor" ? "floor" : "ceil", args: [inner] })
      }
      case "mathbf":
      case "vec":
      case "boldsymbol":
        return this.parseArgument()
      case "mathbb": {
        // \mathbb{R}: all reals, the interval (-inf, inf).
        if (this.readBracedWord() !== "R") return fail("blackboard set")
        const inf: MathNode = this.node({ kind: "const", name: "inf" })
        return this.node({ kind: "tuple", open: "(", close: ")", items: [this.node({ kind: "neg", arg: inf }), inf] })
      }
      case "operatorname": {
        const name = this.readBracedWord()
        if (!FUNCTIONS.has(name)) return fail(`operator ${name}`)
        return this.parseFunction(name)
      }
      case "begin":
        return this.parseEnvironment()
      default:
        if (GREEK.has(v)) return this.variable(v)
        if (FUNCTIONS.has(v)) return this.parseFunction(v)
        return fail(`command \\${v}`)
    }
  }

  private readBracedWord(): string {
    this.expectSym("{")
    const t = this.peek()
    if (t === undefined || t.t !== "id") return fail("expected a name")
    this.pos++
    this.expectSym("}")
    return t.v
  }

  /** `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (also bmatrix, matrix, array, ...). */
  private parseEnvironment(): MathNode {
    const env = this.readBracedWord()
    if (!/^(p|b|B|v|V|small)?matrix$|^array$/.test(env)) return fail(`environment ${env}`)
    if (env === "array" && this.isSym("{")) {
      // Column spec: skip to the matching brace.
      let depth = 0
      do {
        const k = this.peek()
        if (k === undefined) return fail("unclosed column spec")
        if (k.t === "sym" && k.v === "{") depth++
        if (k.t === "sym" && k.v === "}") depth--
        this.pos++
      } while (depth > 0)
    }
    const rows: Array<Array<MathNode>> = []
    let row: Array<MathNode> = []
    for (;;) {
      if (this.isCmd("end")) {
        this.pos++
        if (this.readBracedWord() !== env) return fail("mismatched \\end")
        if (row.length > 0) rows.push(row)
        break
      }
      row.push(this.parseRelation())
      if (this.isSym("&")) this.pos++
      else if (this.isCmd("\\")) {
        this.pos++
        rows.push(row)
        row = []
      } else if (!this.isCmd("end")) return fail("bad matrix cell")
    }
    if (rows.length === 0 || rows.some((r) => r.length !== rows[0]!.length)) return fail("ragged matrix")
    if (env === "vmatrix" || env === "Vmatrix") return fail("determinant")
    return this.node({ kind: "matrix", rows })
  }
}

const tokenText = (t: Token): string => {
  switch (t.t) {
    case "num":
      return t.int + (t.frac === "" ? "" : `.${t.frac}`)
    case "id":
      return t.v
    case "cmd":
      return t.v
    case "sym":
      return t.v
  }
}

const isIntegerLiteral = (n: MathNode): n is Extract<MathNode, { kind: "num" }> =>
  n.kind === "num" && !n.decimal && Rational.isInteger(n.value)

/** `2\frac{1}{2}` -> 2 + 1/2 and `-2\frac{1}{2}` -> -(2 + 1/2); null when not a mixed number. */
const mixedNumber = (left: MathNode, right: MathNode): MathNode | null => {
  if (right.kind === "percent") {
    // 33\frac{1}{3}\% is (33 + 1/3)%.
    const inner = mixedNumber(left, right.arg)
    return inner === null ? null : { kind: "percent", arg: inner }
  }
  if (right.kind !== "div" || !isIntegerLiteral(right.left) || !isIntegerLiteral(right.right)) return null
  if (isIntegerLiteral(left)) return { kind: "add", left, right }
  if (left.kind === "neg" && isIntegerLiteral(left.arg)) {
    return { kind: "neg", arg: { kind: "add", left: left.arg, right } }
  }
  return null
}

/** Parses cleaned answer text; `null` when it is not math this parser knows. */
export const parse = (cleaned: string): MathNode | null => {
  if (cleaned.trim() === "") return null
  try {
    return new Parser(tokenize(cleaned)).parseTop()
  } catch (e) {
    if (e instanceof ParseFailure) return null
    throw e
  }
}
