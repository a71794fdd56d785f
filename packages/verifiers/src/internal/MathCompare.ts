/**
 * Value comparison of two parsed answers. Exact rationals when both sides are rational; complex
 * floating point (mathjs `Complex`, `gamma`) otherwise, with a tolerance that is tight for exact
 * forms (`\sqrt2/2` vs `1/\sqrt2`) and loose (about 6 decimal places, as math-verify's
 * `float_rounding=6`) when a side is a written decimal approximation. Expressions with variables
 * are compared at fixed pseudo-random points (Schwartz-Zippel style identity testing), never by
 * unbounded symbolic simplification. Containers compare element-wise: tuples and intervals in
 * order with matching brackets, sets and bare lists in any order.
 */
import type * as MathJs from "mathjs"
import { createRequire } from "node:module"
import type { MathNode, RelOp } from "./MathNode.js"
import * as Node from "./MathNode.js"
import * as Rational from "./Rational.js"

export interface Tolerance {
  /** Absolute tolerance for answers that contain a decimal approximation. */
  readonly absolute: number
  /** Relative tolerance for answers that contain a decimal approximation. */
  readonly relative: number
}

/**
 * math-verify rounds both sides to 6 decimal places when one is a float; for a side written with
 * at most 6 decimals that is exactly `|a - b| <= 5e-7`. The tiny relative part absorbs float
 * noise on large magnitudes only.
 */
export const defaultTolerance: Tolerance = { absolute: 5e-7, relative: 1e-12 }

/** Tolerance for exact forms evaluated in floating point: double rounding noise only. */
const EXACT_FORM_RELATIVE = 1e-9
/** Largest exact power result (bits). */
const MAX_POW_BITS = 8192
/** Random points for expressions with variables. */
const POINTS = 6
/** Minimum points where both sides must be finite to call two expressions equal. */
const MIN_VALID_POINTS = 3
/** Most elements in a set/list/tuple/matrix compared (pairwise set matching is quadratic). */
export const MAX_ITEMS = 64

/**
 * mathjs complex numbers are complex.js objects; its typings list only a few of their methods, so
 * this names the ones used here (all present at run time on every mathjs `Complex`).
 */
interface C {
  readonly re: number
  readonly im: number
  add(b: C): C
  sub(b: C): C
  mul(b: C): C
  div(b: C | number): C
  pow(b: C): C
  neg(): C
  abs(): number
  sqrt(): C
  exp(): C
  log(): C
  sin(): C
  cos(): C
  tan(): C
  cot(): C
  sec(): C
  csc(): C
  asin(): C
  acos(): C
  atan(): C
  sinh(): C
  cosh(): C
  tanh(): C
  isZero(): boolean
}

/**
 * mathjs, loaded on first use: importing it costs 1-2 s, and answers that are rational (all of
 * GSM8K, most of MATH) never need floating point, so a process that checks only those never pays.
 */
let mathjs: typeof MathJs | null = null
const math = (): typeof MathJs => (mathjs ??= createRequire(import.meta.url)("mathjs") as typeof MathJs)

const cx = (re: number, im: number): C => math().complex(re, im) as unknown as C
const gamma = (x: number): number => math().gamma(x)

/** A comparison's work budget: each evaluated node costs one unit. */
export class Budget {
  constructor(public remaining: number) {}
  spend(n = 1): void {
    this.remaining -= n
    if (this.remaining < 0) throw new BudgetExceeded()
  }
}
export class BudgetExceeded extends Error {}

// ---------------------------------------------------------------------------------------------
// Exact evaluation

const exactFactorial = (n: bigint, budget: Budget): bigint => {
  let r = 1n
  for (let k = 2n; k <= n; k++) {
    budget.spend()
    r *= k
  }
  return r
}

/** Exact value when the tree is rational arithmetic on literals; `null` otherwise. */
export const exact = (n: MathNode, budget: Budget): Rational.Rational | null => {
  budget.spend()
  switch (n.kind) {
    case "num":
      return n.value
    case "neg": {
      const a = exact(n.arg, budget)
      return a === null ? null : Rational.neg(a)
    }
    case "percent": {
      const a = exact(n.arg, budget)
      return a === null ? null : Rational.mul(a, Rational.make(1n, 100n))
    }
    case "degree":
      return exact(n.arg, budget)
    case "add":
    case "sub":
    case "mul":
    case "div": {
      const a = exact(n.left, budget)
      if (a === null) return null
      const b = exact(n.right, budget)
      if (b === null) return null
      if (n.kind === "add") return Rational.add(a, b)
      if (n.kind === "sub") return Rational.sub(a, b)
      if (n.kind === "mul") return Rational.mul(a, b)
      return Rational.div(a, b)
    }
    case "pow": {
      const a = exact(n.left, budget)
      if (a === null) return null
      const e = exact(n.right, budget)
      if (e === null) return null
      if (e.den === 1n) return Rational.powInt(a, e.num, MAX_POW_BITS)
      if (e.den > 64n) return null
      const r = Rational.root(a, Number(e.den))
      return r === null ? null : Rational.powInt(r, e.num, MAX_POW_BITS)
    }
    case "func":
      return exactFunction(n.name, n.args, budget)
    default:
      return null
  }
}

const exactFunction = (name: string, args: ReadonlyArray<MathNode>, budget: Budget): Rational.Rational | null => {
  const values: Array<Rational.Rational> = []
  for (const a of args) {
    const v = exact(a, budget)
    if (v === null) return null
    values.push(v)
  }
  const [x, y] = values
  switch (name) {
    case "sqrt":
      return Rational.root(x!, 2)
    case "root":
      return y!.den === 1n && y!.num >= 1n && y!.num <= 64n ? Rational.root(x!, Number(y!.num)) : null
    case "abs":
      return x!.num < 0n ? Rational.neg(x!) : x!
    case "factorial":
      return x!.den === 1n && x!.num >= 0n && x!.num <= 1000n ? Rational.make(exactFactorial(x!.num, budget)) : null
    case "binom": {
      if (x!.den !== 1n || y!.den !== 1n) return null
      const nn = x!.num
      let k = y!.num
      if (k < 0n || nn < 0n) return null
      if (k > nn) return Rational.zero
      if (nn - k < k) k = nn - k
      if (k > 1000n) return null
      let r = 1n
      for (let j = 0n; j < k; j++) {
        budget.spend()
        r = (r * (nn - j)) / (j + 1n)
      }
      return Rational.make(r)
    }
    case "floor":
    case "ceil": {
      const q = x!.num / x!.den // truncates toward zero
      const exactInt = q * x!.den === x!.num
      if (exactInt) return Rational.make(q)
      if (name === "floor") return Rational.make(x!.num < 0n ? q - 1n : q)
      return Rational.make(x!.num < 0n ? q : q + 1n)
    }
    case "max":
    case "min": {
      let best = values[0]!
      for (const v of values) {
        const d = Rational.sub(v, best)
        if ((name === "max" && d.num > 0n) || (name === "min" && d.num < 0n)) best = v
      }
      return best
    }
    case "gcd":
    case "lcm": {
      if (values.some((v) => v.den !== 1n)) return null
      let acc = values[0]!.num < 0n ? -values[0]!.num : values[0]!.num
      for (const v of values.slice(1)) {
        let a = acc
        let b = v.num < 0n ? -v.num : v.num
        const prod = a * b
        while (b !== 0n) {
          budget.spend()
          ;[a, b] = [b, a % b]
        }
        acc = name === "gcd" ? a : a === 0n ? 0n : prod / a
      }
      return Rational.make(acc)
    }
    default:
      return null
  }
}

// ---------------------------------------------------------------------------------------------
// Floating-point (complex) evaluation

const real = (x: number): C => cx(x, 0)
const isReal = (c: C): boolean => Math.abs(c.im) <= 1e-12 * Math.max(1, Math.abs(c.re))
const finite = (c: C | null): c is C => c !== null && Number.isFinite(c.re) && Number.isFinite(c.im)

/** Complex value of the tree with variables bound by `env`; `null` where undefined or infinite. */
export const evaluate = (n: MathNode, env: ReadonlyMap<string, number>, budget: Budget): C | null => {
  budget.spend()
  const v = evaluateNode(n, env, budget)
  return finite(v) ? v : null
}

const evaluateNode = (n: MathNode, env: ReadonlyMap<string, number>, budget: Budget): C | null => {
  switch (n.kind) {
    case "num":
      return real(Rational.toNumber(n.value))
    case "const":
      return n.name === "pi" ? real(Math.PI) : n.name === "e" ? real(Math.E) : n.name === "i" ? cx(0, 1) : null
    case "var": {
      const x = env.get(n.name)
      return x === undefined ? null : real(x)
    }
    case "neg": {
      const a = evaluate(n.arg, env, budget)
      return a === null ? null : a.neg()
    }
    case "percent": {
      const a = evaluate(n.arg, env, budget)
      return a === null ? null : a.div(100)
    }
    case "degree":
      return evaluate(n.arg, env, budget)
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "pow": {
      const a = evaluate(n.left, env, budget)
      if (a === null) return null
      const b = evaluate(n.right, env, budget)
      if (b === null) return null
      if (n.kind === "add") return a.add(b)
      if (n.kind === "sub") return a.sub(b)
      if (n.kind === "mul") return a.mul(b)
      if (n.kind === "div") return b.isZero() ? null : a.div(b)
      if (a.isZero() && isReal(b) && b.re < 0) return null
      // Real base to a real power stays real when it can (2^0.5, (-8)^3).
      if (isReal(a) && isReal(b)) {
        const r = Math.pow(a.re, b.re)
        if (!Number.isNaN(r)) return real(r)
      }
      return a.pow(b)
    }
    case "func":
      return evaluateFunction(n.name, n.args, env, budget)
    default:
      return null
  }
}

const evaluateFunction = (
  name: string,
  args: ReadonlyArray<MathNode>,
  env: ReadonlyMap<string, number>,
  budget: Budget
): C | null => {
  const values: Array<C> = []
  for (const a of args) {
    const v = evaluate(a, env, budget)
    if (v === null) return null
    values.push(v)
  }
  const x = values[0]!
  switch (name) {
    case "sqrt":
      return isReal(x) && x.re >= 0 ? real(Math.sqrt(x.re)) : x.sqrt()
    case "root": {
      const k = values[1]!
      if (!isReal(k) || k.re === 0) return null
      if (isReal(x) && Number.isInteger(k.re) && Math.abs(k.re) % 2 === 1) {
        return real(Math.sign(x.re) * Math.pow(Math.abs(x.re), 1 / k.re)) // real odd root
      }
      return x.pow(real(1 / k.re))
    }
    case "sin":
      return x.sin()
    case "cos":
      return x.cos()
    case "tan":
      return x.tan()
    case "cot":
      return x.cot()
    case "sec":
      return x.sec()
    case "csc":
      return x.csc()
    case "arcsin":
      return x.asin()
    case "arccos":
      return x.acos()
    case "arctan":
      return x.atan()
    case "sinh":
      return x.sinh()
    case "cosh":
      return x.cosh()
    case "tanh":
      return x.tanh()
    case "log":
      return x.isZero() ? null : x.log()
    case "exp":
      return x.exp()
    case "abs":
      return real(x.abs())
    case "floor":
      return isReal(x) ? real(Math.floor(x.re)) : null
    case "ceil":
      return isReal(x) ? real(Math.ceil(x.re)) : null
    case "factorial":
      return isReal(x) && x.re > -1 && x.re < 171 ? real(gamma(x.re + 1)) : null
    case "binom": {
      const k = values[1]!
      if (!isReal(x) || !isReal(k) || x.re > 170 || x.re < 0 || k.re < 0 || k.re > x.re) return null
      return real(gamma(x.re + 1) / (gamma(k.re + 1) * gamma(x.re - k.re + 1)))
    }
    case "max":
    case "min": {
      if (!values.every(isReal)) return null
      const reals = values.map((v) => v.re)
      return real(name === "max" ? Math.max(...reals) : Math.min(...reals))
    }
    default:
      return null // gcd/lcm of non-integers, unknown names
  }
}

// ---------------------------------------------------------------------------------------------
// Scalars

const hasDecimal = (n: MathNode): boolean => Node.some(n, (m) => m.kind === "num" && m.decimal)
const hasPercent = (n: MathNode): boolean => Node.some(n, (m) => m.kind === "percent")

/** Replaces every percent node by its argument (`10%` read as `10`). */
const stripPercent = (n: MathNode): MathNode => mapTree(n, (m) => (m.kind === "percent" ? m.arg : m))

/** Bottom-up rebuild applying `f` to every node. */
const mapTree = (n: MathNode, f: (m: MathNode) => MathNode): MathNode => {
  switch (n.kind) {
    case "num":
    case "const":
    case "var":
      return f(n)
    case "neg":
    case "percent":
    case "degree":
      return f({ ...n, arg: mapTree(n.arg, f) })
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "pow":
      return f({ ...n, left: mapTree(n.left, f), right: mapTree(n.right, f) })
    case "pm":
      return f({ ...n, left: n.left === null ? null : mapTree(n.left, f), right: mapTree(n.right, f) })
    case "func":
      return f({ ...n, args: n.args.map((a) => mapTree(a, f)) })
    case "tuple":
    case "set":
    case "list":
    case "union":
      return f({ ...n, items: n.items.map((a) => mapTree(a, f)) })
    case "matrix":
      return f({ ...n, rows: n.rows.map((r) => r.map((a) => mapTree(a, f))) })
    case "rel":
      return f({ ...n, sides: n.sides.map((a) => mapTree(a, f)) })
  }
}

/** +1 / -1 for `\infty` / `-\infty`, 0 for anything else. */
const infinitySign = (n: MathNode): number => {
  if (n.kind === "const" && n.name === "inf") return 1
  if (n.kind === "neg") return -infinitySign(n.arg)
  return 0
}

const close = (a: C, b: C, approximate: boolean, tolerance: Tolerance): boolean => {
  const d = a.sub(b).abs()
  const scale = Math.max(a.abs(), b.abs())
  if (approximate) return d <= tolerance.absolute + tolerance.relative * scale
  return d <= EXACT_FORM_RELATIVE * Math.max(1, scale)
}

/** mulberry32: a tiny seeded generator, so the evaluation points are the same on every run. */
const mulberry32 = (seed: number): (() => number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Points in [-2.7, -0.3] U [0.3, 2.7]: both signs, so |x| != x and sqrt(x^2) != x are caught. */
const samplePoints = (names: ReadonlyArray<string>): Array<Map<string, number>> => {
  const rand = mulberry32(0x5eed)
  const points: Array<Map<string, number>> = []
  for (let p = 0; p < POINTS; p++) {
    const env = new Map<string, number>()
    for (const name of names) env.set(name, (rand() < 0.5 ? -1 : 1) * (0.3 + 2.4 * rand()))
    points.push(env)
  }
  return points
}

const scalarCore = (a: MathNode, b: MathNode, tolerance: Tolerance, budget: Budget): boolean => {
  if (Node.toText(a) === Node.toText(b)) return true
  const ia = infinitySign(a)
  const ib = infinitySign(b)
  if (ia !== 0 || ib !== 0) return ia === ib
  const approximate = hasDecimal(a) || hasDecimal(b)
  const ea = exact(a, budget)
  const eb = ea === null ? null : exact(b, budget)
  if (ea !== null && eb !== null) {
    if (Rational.equals(ea, eb)) return true
    if (!approximate) return false
    return close(real(Rational.toNumber(ea)), real(Rational.toNumber(eb)), true, tolerance)
  }
  const names = [...new Set([...Node.variables(a), ...Node.variables(b)])].sort()
  if (names.length === 0) {
    const env = new Map<string, number>()
    const va = evaluate(a, env, budget)
    const vb = evaluate(b, env, budget)
    return va !== null && vb !== null && close(va, vb, approximate, tolerance)
  }
  let valid = 0
  for (const env of samplePoints(names)) {
    const va = evaluate(a, env, budget)
    const vb = evaluate(b, env, budget)
    if (va === null && vb === null) continue
    if (va === null || vb === null) return false
    if (!close(va, vb, approximate, tolerance)) return false
    valid++
  }
  return valid >= MIN_VALID_POINTS
}

const hasDegree = (n: MathNode): boolean => Node.some(n, (m) => m.kind === "degree")
/** `30°` read as the number 30. */
const stripDegree = (n: MathNode): MathNode => mapTree(n, (m) => (m.kind === "degree" ? m.arg : m))
/** `30°` read as radians, 30 pi / 180. */
const degreeToRadians = (n: MathNode): MathNode =>
  mapTree(n, (m) =>
    m.kind === "degree"
      ? { kind: "mul", left: m.arg, right: { kind: "div", left: { kind: "const", name: "pi" }, right: { kind: "num", value: Rational.make(180n), decimal: false } } }
      : m)

/**
 * The readings of one side. Percent: `10%` may be its number (10, the hendrycks MATH normaliser
 * strips `\%`) or a fraction (0.1, math-verify). Degrees: `30°` may be the number 30 (the brief:
 * `30^\circ` = 30) or radians (pi/6). When the other side carries the same marker, both are read
 * as written numbers, so `10%` != `1000%` and `30°` != `1770°`.
 */
const readings = (n: MathNode, other: MathNode): Array<MathNode> => {
  let out = [n]
  if (hasPercent(n)) out = hasPercent(other) ? out.map(stripPercent) : out.flatMap((v) => [stripPercent(v), v])
  if (hasDegree(n)) out = hasDegree(other) ? out.map(stripDegree) : out.flatMap((v) => [stripDegree(v), degreeToRadians(v)])
  return out
}

const scalarEqual = (a: MathNode, b: MathNode, tolerance: Tolerance, budget: Budget): boolean => {
  const ra = readings(a, b)
  const rb = readings(b, a)
  return ra.some((x) => rb.some((y) => scalarCore(x, y, tolerance, budget)))
}

// ---------------------------------------------------------------------------------------------
// Answers: assignments, plus-minus, containers, relations

/** A left side that names the answer: `x`, `f(x)`, `(x, y)`. */
const isAssignable = (n: MathNode): boolean => {
  if (n.kind === "var") return true
  if (n.kind === "mul" && n.left.kind === "var") return isAssignable(n.right) || n.right.kind === "var"
  if (n.kind === "tuple") return n.items.every((i) => i.kind === "var")
  return false
}

/** `x = 5` -> `5`; `x = 2 + 3 = 5` -> `5`; `x \approx 3.14` -> `3.14`; lists item by item. */
const stripAssignment = (n: MathNode): MathNode => {
  if (n.kind === "list") return { ...n, items: n.items.map(stripAssignment) }
  if (n.kind !== "rel") return n
  if (n.ops.every((op) => op === "=" || op === "~=") && (isAssignable(n.sides[0]!) || n.ops.includes("~="))) {
    return n.sides[n.sides.length - 1]!
  }
  return n
}

/** `a \pm b` -> the list `a + b, a - b` (at most 3 plus-minus signs per answer). */
const expandPlusMinus = (n: MathNode): MathNode => {
  if (n.kind === "list") return { ...n, items: n.items.flatMap((i) => listItems(expandPlusMinus(i))) }
  if (n.kind !== "add" && n.kind !== "sub" && n.kind !== "pm" && n.kind !== "neg" && n.kind !== "mul" &&
    n.kind !== "div") return n
  let count = 0
  Node.some(n, (m) => {
    if (m.kind === "pm") count++
    return false
  })
  if (count === 0 || count > 3) return n
  let variants: Array<MathNode> = [n]
  for (let k = 0; k < count; k++) {
    variants = variants.flatMap((v) => {
      let done = false
      const pick = (sign: 1 | -1): MathNode =>
        mapTree(v, (m) => {
          if (done || m.kind !== "pm") return m
          done = true
          const right: MathNode = sign * m.sign === 1 ? m.right : { kind: "neg", arg: m.right }
          return m.left === null ? right : { kind: "add", left: m.left, right }
        })
      done = false
      const plus = pick(1)
      done = false
      const minus = pick(-1)
      return [plus, minus]
    })
  }
  return { kind: "list", items: variants }
}

const listItems = (n: MathNode): ReadonlyArray<MathNode> => (n.kind === "list" ? n.items : [n])

const prepare = (n: MathNode): MathNode => expandPlusMinus(stripAssignment(n))

const unorderedEqual = (
  a: ReadonlyArray<MathNode>,
  b: ReadonlyArray<MathNode>,
  tolerance: Tolerance,
  budget: Budget
): boolean => {
  if (a.length > MAX_ITEMS || b.length > MAX_ITEMS) return false
  const covered = (xs: ReadonlyArray<MathNode>, ys: ReadonlyArray<MathNode>) =>
    xs.every((x) => ys.some((y) => nodesEqual(x, y, tolerance, budget)))
  return covered(a, b) && covered(b, a)
}

const orderedEqual = (
  a: ReadonlyArray<MathNode>,
  b: ReadonlyArray<MathNode>,
  tolerance: Tolerance,
  budget: Budget
): boolean =>
  a.length === b.length && a.length <= MAX_ITEMS && a.every((x, i) => nodesEqual(x, b[i]!, tolerance, budget))

const FLIP: Partial<Record<RelOp, RelOp>> = { ">": "<", ">=": "<=" }

/** Relations: `>` turned into `<` by reversing; equations up to sign of `lhs - rhs`. */
const relationsEqual = (
  a: Extract<MathNode, { kind: "rel" }>,
  b: Extract<MathNode, { kind: "rel" }>,
  tolerance: Tolerance,
  budget: Budget
): boolean => {
  const orient = (r: Extract<MathNode, { kind: "rel" }>) =>
    r.ops.some((op) => FLIP[op] !== undefined)
      ? { ops: [...r.ops].reverse().map((op) => FLIP[op] ?? op), sides: [...r.sides].reverse() }
      : { ops: [...r.ops], sides: [...r.sides] }
  const ra = orient(a)
  const rb = orient(b)
  if (ra.ops.length !== rb.ops.length || ra.ops.some((op, i) => op !== rb.ops[i])) return false
  if (ra.ops.length === 1 && (ra.ops[0] === "=" || ra.ops[0] === "!=")) {
    const da: MathNode = { kind: "sub", left: ra.sides[0]!, right: ra.sides[1]! }
    const db: MathNode = { kind: "sub", left: rb.sides[0]!, right: rb.sides[1]! }
    return scalarEqual(da, db, tolerance, budget) || scalarEqual(da, { kind: "neg", arg: db }, tolerance, budget)
  }
  if (ra.sides.every((s, i) => nodesEqual(s, rb.sides[i]!, tolerance, budget))) return true
  if (ra.ops.length === 1) {
    const da: MathNode = { kind: "sub", left: ra.sides[1]!, right: ra.sides[0]! }
    const db: MathNode = { kind: "sub", left: rb.sides[1]!, right: rb.sides[0]! }
    return scalarEqual(da, db, tolerance, budget)
  }
  return false
}

const isScalar = (n: MathNode): boolean =>
  n.kind !== "tuple" && n.kind !== "set" && n.kind !== "list" && n.kind !== "union" && n.kind !== "matrix" &&
  n.kind !== "rel"

/** Structural and value equality of two prepared answers. */
const nodesEqual = (a: MathNode, b: MathNode, tolerance: Tolerance, budget: Budget): boolean => {
  budget.spend()
  if (isScalar(a) && isScalar(b)) return scalarEqual(a, b, tolerance, budget)
  if (a.kind === "list" || b.kind === "list") {
    const [l, o] = a.kind === "list" ? [a, b] : [b, a]
    const items = listItems(l)
    if (o.kind === "list" || o.kind === "set") return unorderedEqual(items, o.items, tolerance, budget)
    if (o.kind === "tuple") return orderedEqual(items, o.items, tolerance, budget)
    // A list against one value: every listed value must be it ("2, 2" is the double root 2).
    return isScalar(o) && unorderedEqual(items, [o], tolerance, budget)
  }
  if (a.kind === "set" || b.kind === "set") {
    const [s, o] = a.kind === "set" ? [a, b] : [b, a]
    if (s.kind !== "set") return false
    if (o.kind === "set") return unorderedEqual(s.items, o.items, tolerance, budget)
    return isScalar(o) && s.items.length >= 1 && unorderedEqual(s.items, [o], tolerance, budget)
  }
  if (a.kind === "tuple" && b.kind === "tuple") {
    return a.open === b.open && a.close === b.close && orderedEqual(a.items, b.items, tolerance, budget)
  }
  if (a.kind === "union" && b.kind === "union") return unorderedEqual(a.items, b.items, tolerance, budget)
  if (a.kind === "matrix" && b.kind === "matrix") {
    return a.rows.length === b.rows.length && a.rows[0]!.length === b.rows[0]!.length &&
      orderedEqual(a.rows.flat(), b.rows.flat(), tolerance, budget)
  }
  if (a.kind === "rel" && b.kind === "rel") return relationsEqual(a, b, tolerance, budget)
  // One side an equation, the other a value: the value of the equation is its last side
  // (math-verify: "1+1+1=3" or "k = x+1" against a plain gold keeps the right-hand side).
  const equation = (n: MathNode) => n.kind === "rel" && n.ops.every((op) => op === "=")
  if (equation(a) && b.kind !== "rel") return nodesEqual(lastSide(a), b, tolerance, budget)
  if (equation(b) && a.kind !== "rel") return nodesEqual(a, lastSide(b), tolerance, budget)
  return false
}

const lastSide = (n: MathNode): MathNode => (n.kind === "rel" ? n.sides[n.sides.length - 1]! : n)

/** Do two parsed answers denote the same value? `false` when the work budget runs out. */
export const equal = (a: MathNode, b: MathNode, tolerance: Tolerance, budget: Budget): boolean => {
  try {
    return nodesEqual(prepare(a), prepare(b), tolerance, budget)
  } catch (e) {
    if (e instanceof BudgetExceeded) return false
    throw e
  }
}
