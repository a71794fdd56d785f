/**
 * `Countdown`: make a target from a handful of numbers with + - * / (the "numbers round" of the
 * game show; used as an RLVR task by TinyZero). A multi-step task: the answer is an expression,
 * checked by parsing and evaluating it exactly — never `eval`.
 *
 * Prompt `"3 5 7 to 22:"`, demonstration `"3*5+7\n"`. Rules the verifier enforces:
 * - the completion (up to the stop marker "\n") is an expression over integers, + - * / and
 *   parentheses, with the usual precedence; no unary minus;
 * - each given number is used at most once (as a multiset: "3 3 5" allows two 3s);
 * - every division is exact (non-zero divisor, no remainder); intermediates may be negative;
 * - the value equals the target.
 * The solver searches positive intermediates only (the game's rule) and returns a shortest
 * solution (fewest operations); it provides demonstrations and the difficulty of a problem
 * (its number of operations, `steps`).
 */
import { InvalidArgumentError, type Rng } from "@duet/core"
import * as Partition from "./Partition.js"
import type { Problem, SplitName } from "./Problem.js"
import * as ProblemSampler from "./ProblemSampler.js"
import * as Range from "./Range.js"
import { answerText, type LengthBounds, type SplitOptions, type Task } from "./Task.js"

export type Op = "+" | "-" | "*" | "/"

export type Expr =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "binary"; readonly op: Op; readonly left: Expr; readonly right: Expr }

export type Outcome<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }

const fail = <A>(reason: string): Outcome<A> => ({ ok: false, reason })
const succeed = <A>(value: A): Outcome<A> => ({ ok: true, value })

/** Longest expression the parser reads, deepest parenthesis nesting, longest number literal. */
export const limits = { length: 256, depth: 32, literalDigits: 6 } as const

/**
 * Recursive-descent parser for `expr := term (("+" | "-") term)*`, `term := factor (("*" | "/")
 * factor)*`, `factor := integer | "(" expr ")"`. Spaces are ignored.
 */
export const parse = (text: string): Outcome<Expr> => {
  if (text.length > limits.length) return fail(`expression longer than ${limits.length} characters`)
  const src = text.replace(/ /g, "")
  if (src.length === 0) return fail("empty expression")
  let pos = 0
  let error: string | undefined

  const factor = (depth: number): Expr | undefined => {
    const c = src[pos]
    if (c === "(") {
      if (depth >= limits.depth) {
        error = `parentheses nested deeper than ${limits.depth}`
        return undefined
      }
      pos++
      const inner = expr(depth + 1)
      if (inner === undefined) return undefined
      if (src[pos] !== ")") {
        error = `expected ")" at position ${pos}`
        return undefined
      }
      pos++
      return inner
    }
    const start = pos
    while (pos < src.length && src[pos]! >= "0" && src[pos]! <= "9") pos++
    if (pos === start) {
      error = c === undefined ? "expression ends where a number was expected" : `unexpected ${JSON.stringify(c)} at position ${pos}`
      return undefined
    }
    if (pos - start > limits.literalDigits) {
      error = `number longer than ${limits.literalDigits} digits`
      return undefined
    }
    return { kind: "number", value: Number(src.slice(start, pos)) }
  }

  const term = (depth: number): Expr | undefined => {
    let left = factor(depth)
    while (left !== undefined && (src[pos] === "*" || src[pos] === "/")) {
      const op = src[pos++] as Op
      const right = factor(depth)
      if (right === undefined) return undefined
      left = { kind: "binary", op, left, right }
    }
    return left
  }

  const expr = (depth: number): Expr | undefined => {
    let left = term(depth)
    while (left !== undefined && (src[pos] === "+" || src[pos] === "-")) {
      const op = src[pos++] as Op
      const right = term(depth)
      if (right === undefined) return undefined
      left = { kind: "binary", op, left, right }
    }
    return left
  }

  const result = expr(0)
  if (result === undefined) return fail(error ?? "unparsable expression")
  if (pos !== src.length) return fail(`unexpected ${JSON.stringify(src[pos])} at position ${pos}`)
  return succeed(result)
}

/** Exact integer value of an expression; fails on a division that is not exact or an unsafe integer. */
export const evaluate = (e: Expr): Outcome<number> => {
  if (e.kind === "number") return succeed(e.value)
  const l = evaluate(e.left)
  if (!l.ok) return l
  const r = evaluate(e.right)
  if (!r.ok) return r
  const a = l.value
  const b = r.value
  let v: number
  switch (e.op) {
    case "+":
      v = a + b
      break
    case "-":
      v = a - b
      break
    case "*":
      v = a * b
      break
    case "/":
      if (b === 0) return fail(`division by zero in ${a}/${b}`)
      if (a % b !== 0) return fail(`division ${a}/${b} is not exact`)
      v = a / b
      break
  }
  if (!Number.isSafeInteger(v)) return fail(`intermediate value ${v} is not a safe integer`)
  return succeed(v === 0 ? 0 : v) // no -0
}

/** The number literals of an expression, left to right. */
export const literals = (e: Expr): number[] => (e.kind === "number" ? [e.value] : [...literals(e.left), ...literals(e.right)])

/**
 * Checks `expression` against the countdown rules: parses, uses each of `numbers` at most once,
 * divides exactly, and equals `target`. The failure reason says which rule broke.
 */
export const check = (expression: string, numbers: ReadonlyArray<number>, target: number): Outcome<number> => {
  const parsed = parse(expression)
  if (!parsed.ok) return parsed
  const left = new Map<number, number>()
  for (const n of numbers) left.set(n, (left.get(n) ?? 0) + 1)
  for (const n of literals(parsed.value)) {
    const k = left.get(n) ?? 0
    if (k === 0) return fail(numbers.includes(n) ? `uses ${n} more often than given` : `uses ${n}, which is not among the numbers`)
    left.set(n, k - 1)
  }
  const value = evaluate(parsed.value)
  if (!value.ok) return value
  if (value.value !== target) return fail(`evaluates to ${value.value}, not ${target}`)
  return value
}

interface Node {
  readonly value: number
  readonly text: string
  /** Operator at the root of the expression, undefined for a bare number. */
  readonly op: Op | undefined
}

const additive = (op: Op | undefined): boolean => op === "+" || op === "-"

/** Joins two sub-expressions with the fewest parentheses that keep the standard-precedence value. */
const combine = (a: Node, op: Op, b: Node, value: number): Node => {
  const wrap = (n: Node, need: boolean): string => (need ? `(${n.text})` : n.text)
  let text: string
  switch (op) {
    case "+":
      text = `${a.text}+${b.text}`
      break
    case "-":
      text = `${a.text}-${wrap(b, additive(b.op))}`
      break
    case "*":
      text = `${wrap(a, additive(a.op))}*${wrap(b, additive(b.op) || b.op === "/")}`
      break
    case "/":
      text = `${wrap(a, additive(a.op))}/${wrap(b, b.op !== undefined)}`
      break
  }
  return { value, text, op }
}

/** The pairs (op, result) the solver tries for two positive values hi >= lo. */
const moves = (hi: number, lo: number): Array<[Op, number]> => {
  const out: Array<[Op, number]> = [["+", hi + lo]]
  if (lo > 1) out.push(["*", hi * lo])
  if (hi > lo) out.push(["-", hi - lo])
  if (lo > 1 && hi % lo === 0) out.push(["/", hi / lo])
  return out
}

/**
 * A shortest solution (fewest operations) using positive intermediates, or undefined.
 * Iterative deepening over "replace two numbers by their combination": at most
 * prod_{k=2..n} C(k,2) * 4 expressions for n numbers (46 080 for n = 5).
 */
export const solve = (numbers: ReadonlyArray<number>, target: number): string | undefined => {
  const start: Node[] = numbers.map((value) => ({ value, text: String(value), op: undefined }))
  const direct = start.find((n) => n.value === target)
  if (direct !== undefined) return direct.text
  const search = (items: ReadonlyArray<Node>, opsLeft: number): string | undefined => {
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const [hi, lo] = items[i]!.value >= items[j]!.value ? [items[i]!, items[j]!] : [items[j]!, items[i]!]
        for (const [op, value] of moves(hi.value, lo.value)) {
          const node = combine(hi, op, lo, value)
          if (opsLeft === 1) {
            if (value === target) return node.text
            continue
          }
          const rest = items.filter((_, k) => k !== i && k !== j)
          rest.push(node)
          const found = search(rest, opsLeft - 1)
          if (found !== undefined) return found
        }
      }
    }
    return undefined
  }
  for (let ops = 1; ops < numbers.length; ops++) {
    const found = search(start, ops)
    if (found !== undefined) return found
  }
  return undefined
}

/** Number of operations in an expression. */
export const operations = (expression: string): number => (expression.match(/[-+*/]/g) ?? []).length

/** What draws a countdown problem. */
export interface Shape {
  /** How many numbers a prompt gives. */
  readonly count: Range.Range
  /** Range of each given number. */
  readonly values: Range.Range
  /** Range of the target. */
  readonly target: Range.Range
  /** Operations in the shortest solution (the difficulty). */
  readonly steps: Range.Range
}

export interface Config extends Partial<Shape> {
  /**
   * The OOD shape, field by field over the training shape (default: one more number and targets
   * 100..999). OOD problems that would also fit the training shape are skipped.
   */
  readonly ood?: Partial<Shape>
  /** Share of the in-distribution problem space held out for "test" (default 0.2). */
  readonly testShare?: number
  /** Task name, also the partition salt (default "countdown"). */
  readonly name?: string
}

export type Meta = {
  readonly numbers: ReadonlyArray<number>
  readonly target: number
  /** Operations in the shortest solution. */
  readonly steps: number
  readonly difficulty: number
}

export const alphabet = "\n ()*+-/0123456789:ot"

export const stop = "\n"

export const prompt = (numbers: ReadonlyArray<number>, target: number): string => `${numbers.join(" ")} to ${target}:`

export const metaOf = (problem: Problem): Meta => {
  const m = problem.meta as Partial<Meta> | undefined
  if (m === undefined || !Array.isArray(m.numbers) || typeof m.target !== "number") {
    throw new InvalidArgumentError(`problem ${problem.id}`, "is not a countdown problem (meta needs numbers, target)")
  }
  return m as Meta
}

const checkShape = (s: Shape, field: string): Shape => {
  const count = Range.check(s.count, `${field}count`, 2, 6)
  const values = Range.check(s.values, `${field}values`, 1, 9999)
  const target = Range.check(s.target, `${field}target`, 1, 999_999)
  const steps = Range.check(s.steps, `${field}steps`, 1, 5)
  if (steps.min > count.max - 1) {
    throw new InvalidArgumentError(`${field}steps`, `has min ${steps.min}, but ${count.max} numbers allow at most ${count.max - 1} operations`)
  }
  return { count, values, target, steps }
}

const fits = (s: Shape, numbers: ReadonlyArray<number>, target: number, steps: number): boolean =>
  Range.contains(s.count, numbers.length) &&
  numbers.every((n) => Range.contains(s.values, n)) &&
  Range.contains(s.target, target) &&
  Range.contains(s.steps, steps)

export const task = (config: Config = {}): Task & { readonly shape: Shape; readonly oodShape: Shape } => {
  const shape = checkShape(
    {
      count: config.count ?? { min: 3, max: 4 },
      values: config.values ?? { min: 1, max: 9 },
      target: config.target ?? { min: 10, max: 99 },
      steps: config.steps ?? { min: 2, max: 3 }
    },
    ""
  )
  const oodShape = checkShape(
    {
      count: config.ood?.count ?? { min: shape.count.max + 1, max: shape.count.max + 1 },
      values: config.ood?.values ?? shape.values,
      target: config.ood?.target ?? { min: 100, max: 999 },
      steps: config.ood?.steps ?? { min: shape.steps.min, max: Math.min(5, shape.count.max) }
    },
    "ood."
  )
  const name = config.name ?? "countdown"
  const partition = Partition.make(config.testShare ?? 0.2, name)

  const draw = (rng: Rng, split: SplitName): ProblemSampler.Candidate | undefined => {
    const s = split === "ood" ? oodShape : shape
    const n = Range.draw(rng, s.count)
    const numbers = Array.from({ length: n }, () => Range.draw(rng, s.values))
    const target = Range.draw(rng, s.target)
    const solution = solve(numbers, target)
    if (solution === undefined) return undefined
    const steps = operations(solution)
    if (!Range.contains(s.steps, steps)) return undefined
    if (split === "ood" && fits(shape, numbers, target, steps)) return undefined
    const meta: Meta = { numbers, target, steps, difficulty: steps }
    return { prompt: prompt(numbers, target), answer: solution, meta }
  }

  const verify = (completion: string, problem: Problem): boolean => {
    const { numbers, target } = metaOf(problem)
    return check(answerText(completion, stop), numbers, target).ok
  }

  /** The solution with one operator swapped (re-drawn until wrong), else a bare number (always wrong: steps >= 1). */
  const corrupt = (problem: Problem, rng: Rng): string => {
    const { numbers, target } = metaOf(problem)
    const text = problem.answer
    const at: number[] = []
    for (let i = 0; i < text.length; i++) if ("+-*/".includes(text[i]!)) at.push(i)
    for (let tries = 0; tries < 8 && at.length > 0; tries++) {
      const i = at[rng.int(at.length)]!
      const others = [..."+-*/"].filter((o) => o !== text[i])
      const wrong = text.slice(0, i) + others[rng.int(others.length)]! + text.slice(i + 1)
      if (!check(wrong, numbers, target).ok) return wrong + stop
    }
    return String(numbers[0]) + stop
  }

  const maxLength = (split: SplitName): LengthBounds => {
    const s = split === "ood" ? oodShape : shape
    const v = String(s.values.max).length
    const n = s.count.max
    // n numbers, n - 1 operators, at most n - 2 pairs of parentheses, the stop.
    return { prompt: n * (v + 1) + 3 + String(s.target.max).length + 1, completion: n * v + (n - 1) + 2 * Math.max(0, n - 2) + 1 }
  }

  return {
    name,
    alphabet,
    stop,
    shape,
    oodShape,
    split: (split: SplitName, options: SplitOptions) => ProblemSampler.sample({ task: name, split, options, partition, draw }),
    demonstration: (problem) => problem.answer + stop,
    verify,
    corrupt,
    maxLength
  }
}
