/**
 * Evaluation of a parsed answer: exactly, as a BigInt rational, when it is rational arithmetic on
 * literals; otherwise in complex floating point (`Complex`, `gamma`) with variables bound to
 * numbers. Every evaluated node spends one unit of a `Budget`, which also carries the deadline.
 */
import { Complex, gamma } from "./Complex.js"
import type { MathNode } from "./MathNode.js"
import * as Node from "./MathNode.js"
import * as Rational from "./Rational.js"

/** Largest exact power result (bits). */
const MAX_POW_BITS = 8192

/** A complex value (the evaluator's number type). */
export type C = Complex

const cx = (re: number, im: number): C => new Complex(re, im)

/**
 * A comparison's work budget: each evaluated node costs one unit, and the clock is read every 256
 * units against an optional deadline (`performance.now()` milliseconds), so no comparison runs
 * past it by more than a few hundred node evaluations. `rule` records the test that decided the
 * last scalar comparison (for `--explain`).
 */
export class Budget {
  rule = "none"
  private sinceClock = 0
  constructor(public remaining: number, readonly deadline: number = Infinity) {}
  spend(n = 1): void {
    this.remaining -= n
    if (this.remaining < 0) throw new BudgetExceeded("work budget exhausted")
    this.sinceClock += n
    if (this.sinceClock >= 256 && this.deadline !== Infinity) {
      this.sinceClock = 0
      if (performance.now() > this.deadline) throw new BudgetExceeded("timeout")
    }
  }
}
/** Thrown when a comparison runs out of work units or time; it grades the row wrong. */
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

export const real = (x: number): C => cx(x, 0)
export const isReal = (c: C): boolean => Math.abs(c.im) <= 1e-12 * Math.max(1, Math.abs(c.re))
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
        // A negative base to p/q with q odd is the real root, as `\sqrt[3]{x}^2` is, so that
        // `x^{2/3}` = `\sqrt[3]{x}^2` = `\sqrt[3]{x^2}` at negative x too.
        const e = Node.some(n.right, (m) => m.kind === "var") ? null : exact(n.right, budget)
        if (e !== null && e.den % 2n === 1n && e.den <= 64n) {
          const magnitude = Math.pow(-a.re, b.re)
          return real(e.num % 2n === 0n ? magnitude : -magnitude)
        }
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
