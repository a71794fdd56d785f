/**
 * Value comparison of two parsed answers (values from `Evaluation`). Exact rationals when both
 * sides are rational; complex floating point otherwise, with a tolerance that is tight for exact
 * forms (`\sqrt2/2` vs `1/\sqrt2`) and loose (about 6 decimal places, as math-verify's
 * `float_rounding=6`) when a side is a written decimal approximation. Expressions with variables
 * are compared at fixed pseudo-random points (Schwartz-Zippel style identity testing), never by
 * unbounded symbolic simplification. Containers compare element-wise: tuples and intervals in
 * order with matching brackets, sets and bare lists in any order.
 */
import { type Budget, BudgetExceeded, type C, evaluate, exact, isReal, real } from "./Evaluation.js"
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
/** Random points for expressions with variables. */
const POINTS = 6
/** Minimum points where both sides must be finite to call two expressions equal. */
const MIN_VALID_POINTS = 3
/** Most elements in a set/list/tuple/matrix compared (pairwise set matching is quadratic). */
export const MAX_ITEMS = 64

// ---------------------------------------------------------------------------------------------
// Scalars

const hasDecimal = (n: MathNode): boolean => Node.some(n, (m) => m.kind === "num" && m.decimal)
const hasPercent = (n: MathNode): boolean => Node.some(n, (m) => m.kind === "percent")

/** Replaces every percent node by its argument (`10%` read as `10`). */
const stripPercent = (n: MathNode): MathNode => Node.map(n, (m) => (m.kind === "percent" ? m.arg : m))

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
  if (Node.toText(a) === Node.toText(b)) {
    budget.rule = "same canonical form"
    return true
  }
  const ia = infinitySign(a)
  const ib = infinitySign(b)
  if (ia !== 0 || ib !== 0) {
    budget.rule = "infinity sign"
    return ia === ib
  }
  const approximate = hasDecimal(a) || hasDecimal(b)
  const ea = exact(a, budget)
  const eb = ea === null ? null : exact(b, budget)
  if (ea !== null && eb !== null) {
    budget.rule = "exact rational value"
    if (Rational.equals(ea, eb)) return true
    if (!approximate) return false
    budget.rule = "decimal within tolerance"
    return close(real(Rational.toNumber(ea)), real(Rational.toNumber(eb)), true, tolerance)
  }
  const names = [...new Set([...Node.variables(a), ...Node.variables(b)])].sort()
  if (names.length === 0) {
    budget.rule = approximate ? "numeric value within tolerance" : "numeric value (exact form)"
    const env = new Map<string, number>()
    const va = evaluate(a, env, budget)
    const vb = evaluate(b, env, budget)
    return va !== null && vb !== null && close(va, vb, approximate, tolerance)
  }
  budget.rule = "symbolic: equal at sample points"
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
const stripDegree = (n: MathNode): MathNode => Node.map(n, (m) => (m.kind === "degree" ? m.arg : m))
/** `30°` read as radians, 30 pi / 180. */
const degreeToRadians = (n: MathNode): MathNode =>
  Node.map(n, (m) =>
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

/**
 * How one comparison grades beyond numbers. `relaxed: false` is Math-Verify's default
 * (`strict=True`); `relaxed: true` is its `strict=False` plus two human-grader leniencies: see
 * `MathAnswer.Options.relaxed`.
 */
export interface Rules {
  readonly tolerance: Tolerance
  readonly relaxed: boolean
}

/** A left side that names the answer: `x`, `f(x)`, `(x, y)`. */
const isAssignable = (n: MathNode): boolean => {
  if (n.kind === "var") return true
  if (n.kind === "mul" && n.left.kind === "var") return isAssignable(n.right) || n.right.kind === "var"
  if (n.kind === "tuple") return n.items.every((i) => i.kind === "var")
  return false
}

const isEquation = (n: MathNode): n is Extract<MathNode, { kind: "rel" }> =>
  n.kind === "rel" && n.ops.every((op) => op === "=")

/**
 * An approximation keeps the value written before it: `\frac16 \approx 0.1667` -> `\frac16`,
 * `x = \frac16 \approx 0.17` -> `\frac16`, but `x \approx 3.14` -> `3.14` (a name is no value).
 */
const approximated = (n: Relation): MathNode => {
  const at = n.ops.indexOf("~=")
  const before = n.sides[at]!
  return isAssignable(before) ? n.sides[at + 1]! : before
}

/** The approximation relation itself, or `null`. */
const asApproximation = (n: MathNode): Relation | null =>
  n.kind === "rel" && n.ops.every((op) => op === "=" || op === "~=") && n.ops.includes("~=") ? n : null

/** Approximations by their value; in a bare list, `x = 2, y = 3` -> `2, 3` (each item a named value). */
const stripApproximation = (n: MathNode): MathNode => {
  if (n.kind === "list") return { ...n, items: n.items.map(stripListAssignment) }
  const approximation = asApproximation(n)
  return approximation === null ? n : approximated(approximation)
}

const stripListAssignment = (n: MathNode): MathNode => {
  const approximation = asApproximation(n)
  if (approximation !== null) return approximated(approximation)
  return isEquation(n) && isAssignable(n.sides[0]!) ? lastSide(n) : n
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
        Node.map(v, (m) => {
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

/** `\{1,2\} \cup \{3\}` -> `\{1,2,3\}`: a union of finite sets is a finite set. */
const mergeSetUnion = (n: MathNode): MathNode =>
  n.kind === "union" && n.items.every((i) => i.kind === "set")
    ? { kind: "set", items: n.items.flatMap((i) => (i.kind === "set" ? i.items : [])) }
    : n

const listItems = (n: MathNode): ReadonlyArray<MathNode> => (n.kind === "list" ? n.items : [n])

const prepare = (n: MathNode): MathNode => mergeSetUnion(expandPlusMinus(n))

const unorderedEqual = (
  a: ReadonlyArray<MathNode>,
  b: ReadonlyArray<MathNode>,
  rules: Rules,
  budget: Budget
): boolean => {
  if (a.length > MAX_ITEMS || b.length > MAX_ITEMS) return false
  const covered = (xs: ReadonlyArray<MathNode>, ys: ReadonlyArray<MathNode>) =>
    xs.every((x) => ys.some((y) => nodesEqual(x, y, rules, budget)))
  return covered(a, b) && covered(b, a)
}

const orderedEqual = (
  a: ReadonlyArray<MathNode>,
  b: ReadonlyArray<MathNode>,
  rules: Rules,
  budget: Budget
): boolean =>
  a.length === b.length && a.length <= MAX_ITEMS && a.every((x, i) => nodesEqual(x, b[i]!, rules, budget))

const FLIP: Partial<Record<RelOp, RelOp>> = { ">": "<", ">=": "<=" }

type Relation = Extract<MathNode, { kind: "rel" }>

/** `a > b` written as `b < a`, so that every inequality reads left to right as `<` / `<=`. */
const orient = (r: Relation): { ops: Array<RelOp>; sides: Array<MathNode> } =>
  r.ops.some((op) => FLIP[op] !== undefined)
    ? { ops: [...r.ops].reverse().map((op) => FLIP[op] ?? op), sides: [...r.sides].reverse() }
    : { ops: [...r.ops], sides: [...r.sides] }

/**
 * Is `a = k b` for one constant `k != 0` (`k > 0` when `positive`)? Checked at the sample points
 * where both sides are defined, so `x^2/4 + y^2/9 - 1` and `9x^2 + 4y^2 - 36` are proportional.
 */
const proportional = (a: MathNode, b: MathNode, positive: boolean, rules: Rules, budget: Budget): boolean => {
  const names = [...new Set([...Node.variables(a), ...Node.variables(b)])].sort()
  const envs = names.length === 0 ? [new Map<string, number>()] : samplePoints(names)
  const pairs: Array<readonly [C, C]> = []
  for (const env of envs) {
    const va = evaluate(a, env, budget)
    const vb = evaluate(b, env, budget)
    if (va === null && vb === null) continue
    if (va === null || vb === null) return false
    pairs.push([va, vb])
  }
  if (pairs.length < Math.min(envs.length, MIN_VALID_POINTS)) return false
  const pivot = pairs.reduce((best, p) => (p[1].abs() > best[1].abs() ? p : best))
  if (pivot[1].abs() < 1e-12) return pairs.every(([va]) => va.abs() < 1e-12)
  const k = pivot[0].div(pivot[1])
  if (k.abs() < 1e-12 || (positive && !(isReal(k) && k.re > 0))) return false
  const approximate = hasDecimal(a) || hasDecimal(b)
  return pairs.every(([va, vb]) => close(va, k.mul(vb), approximate, rules.tolerance))
}

/**
 * Relations: `>` turned into `<` by reversing; an equation matches another whose `lhs - rhs` is a
 * nonzero constant multiple of its own (`y = 2x+3` = `2x - y + 3 = 0`, `x^2/4 + y^2/9 = 1` =
 * `9x^2 + 4y^2 = 36`); a single inequality matches one whose `rhs - lhs` is a positive multiple.
 */
const relationsEqual = (a: Relation, b: Relation, rules: Rules, budget: Budget): boolean => {
  const ra = orient(a)
  const rb = orient(b)
  if (ra.ops.length !== rb.ops.length || ra.ops.some((op, i) => op !== rb.ops[i])) return decided(budget, "relation: different operators", false)
  if (ra.ops.length === 1) {
    const da: MathNode = { kind: "sub", left: ra.sides[1]!, right: ra.sides[0]! }
    const db: MathNode = { kind: "sub", left: rb.sides[1]!, right: rb.sides[0]! }
    const symmetric = ra.ops[0] === "=" || ra.ops[0] === "!="
    if (scalarEqual(da, db, rules.tolerance, budget)) return decided(budget, "relation: same difference of sides", true)
    if (symmetric && scalarEqual(da, { kind: "neg", arg: db }, rules.tolerance, budget)) {
      return decided(budget, "relation: same difference of sides", true)
    }
    const rule = symmetric ? "equation: proportional sides" : "inequality: positive multiple"
    return decided(budget, rule, proportional(da, db, !symmetric, rules, budget))
  }
  return decided(budget, "relation chain, side by side", ra.sides.every((s, i) => nodesEqual(s, rb.sides[i]!, rules, budget)))
}

const negInfinity: MathNode = { kind: "neg", arg: { kind: "const", name: "inf" } }
const infinity: MathNode = { kind: "const", name: "inf" }
const hasVariable = (n: MathNode): boolean => Node.some(n, (m) => m.kind === "var")

/**
 * An inequality in one variable as the interval it describes: `-2 \le x \le 7` -> `[-2, 7]`,
 * `x > 3` -> `(3, \infty)`; a bare list of them (`x < -2 or x > 3`) as the union. `null` otherwise.
 */
const asInterval = (n: MathNode): MathNode | null => {
  if (n.kind === "list") {
    const parts = n.items.map(asInterval)
    return parts.every((p) => p !== null) ? { kind: "union", items: parts as Array<MathNode> } : null
  }
  if (n.kind !== "rel") return null
  const { ops, sides } = orient(n)
  if (!ops.every((op) => op === "<" || op === "<=")) return null
  const open = (op: RelOp): "(" | "[" => (op === "<" ? "(" : "[")
  const close = (op: RelOp): ")" | "]" => (op === "<" ? ")" : "]")
  if (ops.length === 2 && sides[1]!.kind === "var" && !hasVariable(sides[0]!) && !hasVariable(sides[2]!)) {
    return { kind: "tuple", open: open(ops[0]!), close: close(ops[1]!), items: [sides[0]!, sides[2]!] }
  }
  if (ops.length !== 1) return null
  const [left, right] = [sides[0]!, sides[1]!]
  if (left.kind === "var" && !hasVariable(right)) return { kind: "tuple", open: "(", close: close(ops[0]!), items: [negInfinity, right] }
  if (right.kind === "var" && !hasVariable(left)) return { kind: "tuple", open: open(ops[0]!), close: ")", items: [left, infinity] }
  return null
}

const isIntervalLike = (n: MathNode): boolean =>
  (n.kind === "tuple" && n.items.length === 2) || (n.kind === "union" && n.items.every(isIntervalLike))

const isScalar = (n: MathNode): boolean =>
  n.kind !== "tuple" && n.kind !== "set" && n.kind !== "list" && n.kind !== "union" && n.kind !== "matrix" &&
  n.kind !== "rel"

/** Records `rule` as the test that decided (the outermost container's, as it returns last). */
const decided = (budget: Budget, rule: string, result: boolean): boolean => {
  budget.rule = rule
  return result
}

/** An ordered pair `(a, b)` read as Math-Verify reads it against a set: an open interval, so a < b. */
const isIncreasingPair = (t: Extract<MathNode, { kind: "tuple" }>, budget: Budget): boolean => {
  const [a, b] = t.items.map((x) => exact(x, budget))
  return a == null || b == null || Rational.sub(b, a).num > 0n
}

/** Structural and value equality of two prepared answers. */
const nodesEqual = (a: MathNode, b: MathNode, rules: Rules, budget: Budget): boolean => {
  budget.spend()
  const tolerance = rules.tolerance
  if (isScalar(a) && isScalar(b)) return scalarEqual(a, b, tolerance, budget)
  // An inequality against an interval: the interval it describes (`-2 \le x \le 7` = `[-2, 7]`).
  if (isIntervalLike(a) || isIntervalLike(b)) {
    const [i, o] = isIntervalLike(a) ? [a, b] : [b, a]
    const described = o.kind === "rel" || o.kind === "list" ? asInterval(o) : null
    if (described !== null) return decided(budget, "inequality as interval", nodesEqual(i, described, rules, budget))
  }
  if (a.kind === "list" || b.kind === "list") {
    const [l, o] = a.kind === "list" ? [a, b] : [b, a]
    const items = listItems(l)
    if (o.kind === "list" || o.kind === "set") return decided(budget, "set, any order", unorderedEqual(items, o.items, rules, budget))
    if (o.kind === "tuple") return decided(budget, "tuple, in order", orderedEqual(items, o.items, rules, budget))
    // A list against one value: every listed value must be it ("2, 2" is the double root 2).
    return decided(budget, "list against one value", isScalar(o) && unorderedEqual(items, [o], rules, budget))
  }
  if (a.kind === "set" || b.kind === "set") {
    const [s, o] = a.kind === "set" ? [a, b] : [b, a]
    if (s.kind !== "set") return false
    if (o.kind === "set") return decided(budget, "set, any order", unorderedEqual(s.items, o.items, rules, budget))
    // An ordered pair `(1, 3)` against `\{1, 3\}`: Math-Verify reads the pair as the open interval
    // and compares its ends with the set's sorted elements. Relaxed: any tuple, any order.
    if (o.kind === "tuple") {
      const pair = o.open === "(" && o.close === ")" && o.items.length === 2 && isIncreasingPair(o, budget)
      const allowed = rules.relaxed || pair
      return decided(budget, "tuple against set", allowed && o.items.length === s.items.length && unorderedEqual(o.items, s.items, rules, budget))
    }
    return decided(budget, "set against one value", isScalar(o) && s.items.length >= 1 && unorderedEqual(s.items, [o], rules, budget))
  }
  if (a.kind === "tuple" && b.kind === "tuple") {
    return decided(budget, "tuple or interval, in order", a.open === b.open && a.close === b.close && orderedEqual(a.items, b.items, rules, budget))
  }
  if (a.kind === "union" && b.kind === "union") return decided(budget, "union, any order", unorderedEqual(a.items, b.items, rules, budget))
  if (a.kind === "matrix" && b.kind === "matrix") {
    const sameShape = a.rows.length === b.rows.length && a.rows[0]!.length === b.rows[0]!.length
    return decided(budget, "matrix, entry by entry", sameShape && orderedEqual(a.rows.flat(), b.rows.flat(), rules, budget))
  }
  if (a.kind === "rel" && b.kind === "rel") return relationsEqual(a, b, rules, budget)
  return decided(budget, `different kinds (${a.kind}, ${b.kind})`, false)
}

const lastSide = (n: MathNode): MathNode => (n.kind === "rel" ? n.sides[n.sides.length - 1]! : n)

/**
 * Math-Verify's equation rule, which is not symmetric: a predicted equation against a gold value
 * is read as its last side (`1+1+1=3` = `3`, `k = 5` = `5`); a gold equation against a predicted
 * value only when it is an assignment (`x = 1/3` = `1/3`, but gold `7 = 11a+c` != `11a+c`).
 * Relaxed grading reads any equation against a value as its last side.
 */
const applyEquationRule = (pred: MathNode, gold: MathNode, relaxed: boolean): readonly [MathNode, MathNode] => {
  if (isEquation(pred) && gold.kind !== "rel") return [lastSide(pred), gold]
  if (isEquation(gold) && pred.kind !== "rel" && (relaxed || isAssignable(gold.sides[0]!))) return [pred, lastSide(gold)]
  return [pred, gold]
}

/** Every bijection from `from` onto `to` (both at most 3 names). */
const renamings = (from: ReadonlyArray<string>, to: ReadonlyArray<string>): Array<Map<string, string>> => {
  if (from.length === 0) return [new Map()]
  const out: Array<Map<string, string>> = []
  for (const target of to) {
    for (const rest of renamings(from.slice(1), to.filter((t) => t !== target))) {
      out.push(new Map([[from[0]!, target], ...rest]))
    }
  }
  return out
}

const rename = (n: MathNode, names: ReadonlyMap<string, string>): MathNode =>
  Node.map(n, (m) => (m.kind === "var" && names.has(m.name) ? { kind: "var", name: names.get(m.name)! } : m))

/** The outcome of one comparison and the test that decided it. */
export interface Decision {
  readonly equal: boolean
  readonly rule: string
}

/**
 * Do the parsed prediction and gold denote the same answer? Not equal, with the reason as the
 * rule, when the work budget or the deadline runs out.
 */
export const decide = (pred: MathNode, gold: MathNode, rules: Rules, budget: Budget): Decision => {
  try {
    // The equation rule first, so that the value it keeps is prepared (`x = \pm 2` -> `2, -2`).
    const [pe, ge] = applyEquationRule(stripApproximation(pred), stripApproximation(gold), rules.relaxed)
    const [p, g] = [prepare(pe), prepare(ge)]
    if (nodesEqual(p, g, rules, budget)) return { equal: true, rule: budget.rule }
    const rule = budget.rule
    // Relaxed: variables may carry other names (`f(y) = y^2` = `f(x) = x^2`).
    const pv = Node.variables(p)
    const gv = Node.variables(g)
    if (rules.relaxed && pv.length === gv.length && pv.length > 0 && pv.length <= 3 && pv.join() !== gv.join()) {
      for (const names of renamings(pv, gv)) {
        if (nodesEqual(rename(p, names), g, rules, budget)) return { equal: true, rule: `${budget.rule}, variables renamed` }
      }
    }
    return { equal: false, rule }
  } catch (e) {
    if (e instanceof BudgetExceeded) return { equal: false, rule: e.message }
    throw e
  }
}
