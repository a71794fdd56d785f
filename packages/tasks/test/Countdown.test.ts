import { Rng } from "@duet/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Alphabet, Countdown } from "../src/index.js"

fc.configureGlobal({ seed: 42, numRuns: 200 })

const task = Countdown.task()
const meta = (p: { meta?: unknown }) => p.meta as Countdown.Meta

describe("Countdown.parse and evaluate", () => {
  it("follows standard precedence and left associativity", () => {
    const value = (s: string) => {
      const e = Countdown.parse(s)
      if (!e.ok) throw new Error(e.reason)
      return Countdown.evaluate(e.value)
    }
    expect(value("3+5*7")).toEqual({ ok: true, value: 38 })
    expect(value("(3+5)*7")).toEqual({ ok: true, value: 56 })
    expect(value("9-3-2")).toEqual({ ok: true, value: 4 })
    expect(value("8/4/2")).toEqual({ ok: true, value: 1 })
    expect(value(" 2 * ( 9 - 12 ) ")).toEqual({ ok: true, value: -6 })
    expect(value("7/2")).toEqual({ ok: false, reason: "division 7/2 is not exact" })
    expect(value("5/(3-3)")).toEqual({ ok: false, reason: "division by zero in 5/0" })
  })

  it("rejects what is not an expression of the grammar", () => {
    for (const bad of ["", "3+", "-3+5", "3++5", "(3+5", "3+5)", "3 x 5", "3*5\n", "1e3", "1234567+1", "()", "3(5)"]) {
      expect(Countdown.parse(bad).ok, bad).toBe(false)
    }
    expect(Countdown.parse("(".repeat(40) + "1" + ")".repeat(40))).toEqual({ ok: false, reason: "parentheses nested deeper than 32" })
    expect(Countdown.parse("1+".repeat(200) + "1").ok).toBe(false)
  })
})

describe("Countdown.check", () => {
  it("accepts a correct solution and names the rule a wrong one breaks", () => {
    expect(Countdown.check("3*5+7", [3, 5, 7], 22)).toEqual({ ok: true, value: 22 })
    expect(Countdown.check("7+3*5", [7, 5, 3], 22).ok).toBe(true)
    expect(Countdown.check("3*5", [3, 5, 7], 15).ok).toBe(true) // a subset is fine
    expect(Countdown.check("3+3+5", [3, 5, 7], 11)).toEqual({ ok: false, reason: "uses 3 more often than given" })
    expect(Countdown.check("3+3+5", [3, 3, 5], 11).ok).toBe(true) // two 3s given
    expect(Countdown.check("4*5+2", [3, 5, 7], 22)).toEqual({ ok: false, reason: "uses 4, which is not among the numbers" })
    expect(Countdown.check("3*5+7", [3, 5, 7], 23)).toEqual({ ok: false, reason: "evaluates to 22, not 23" })
    expect(Countdown.check("(7+5)/3*3", [3, 5, 7, 3], 12).ok).toBe(true)
    expect(Countdown.check("7/3*3", [3, 7, 3], 7)).toEqual({ ok: false, reason: "division 7/3 is not exact" })
  })

  // Random expression trees over a random multiset of numbers, printed fully parenthesised.
  type Tree = number | { op: Countdown.Op; l: Tree; r: Tree }
  const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
    t: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.integer({ min: 1, max: 30 }),
      fc.record({ op: fc.constantFrom<Countdown.Op>("+", "-", "*", "/"), l: tie("t"), r: tie("t") })
    )
  })).t
  const show = (t: Tree): string => (typeof t === "number" ? String(t) : `(${show(t.l)}${t.op}${show(t.r)})`)
  const leaves = (t: Tree): number[] => (typeof t === "number" ? [t] : [...leaves(t.l), ...leaves(t.r)])
  /** Reference evaluation with BigInt: undefined when a division is by zero or not exact. */
  const exact = (t: Tree): bigint | undefined => {
    if (typeof t === "number") return BigInt(t)
    const a = exact(t.l)
    const b = exact(t.r)
    if (a === undefined || b === undefined) return undefined
    if (t.op === "+") return a + b
    if (t.op === "-") return a - b
    if (t.op === "*") return a * b
    return b === 0n || a % b !== 0n ? undefined : a / b
  }

  it("property: a random valid expression over the numbers evaluates to its exact value", () => {
    fc.assert(
      fc.property(tree, fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 3 }), (t, extra) => {
        const numbers = [...leaves(t), ...extra]
        const want = exact(t)
        const got = Countdown.check(show(t), numbers, Number(want ?? 0))
        if (want === undefined) expect(got.ok).toBe(false)
        else if (Number.isSafeInteger(Number(want))) expect(got).toEqual({ ok: true, value: Number(want) })
      })
    )
  })

  it("property: using any number once more than given is rejected", () => {
    fc.assert(
      fc.property(tree, fc.nat(), (t, k) => {
        const used = leaves(t)
        const drop = used[k % used.length]!
        const given = [...used]
        given.splice(given.indexOf(drop), 1)
        const r = Countdown.check(show(t), given, Number(exact(t) ?? 0))
        expect(r.ok).toBe(false)
        if (!r.ok) expect(r.reason).toMatch(/^uses /)
      })
    )
  })

  it("property: a division with a remainder is rejected even when the target matches the real value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 50 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 49 }), (b, q, rem) => {
        fc.pre(rem < b)
        const a = b * q + rem
        const r = Countdown.check(`${a}/${b}*${b}`, [a, b, b], a)
        expect(r).toEqual({ ok: false, reason: `division ${a}/${b} is not exact` })
      })
    )
  })
})

describe("Countdown.solve", () => {
  /** Independent brute force: fewest operations over positive intermediates, or Infinity. */
  const fewest = (numbers: number[], target: number): number => {
    let best = numbers.includes(target) ? 0 : Infinity
    const go = (xs: number[], ops: number) => {
      for (let i = 0; i < xs.length; i++)
        for (let j = 0; j < xs.length; j++) {
          if (i === j) continue
          const a = xs[i]!
          const b = xs[j]!
          const results = [a + b, a * b, a - b]
          if (a % b === 0) results.push(a / b)
          for (const v of results) {
            if (v <= 0) continue
            if (v === target) best = Math.min(best, ops + 1)
            go([...xs.filter((_, k) => k !== i && k !== j), v], ops + 1)
          }
        }
    }
    go(numbers, 0)
    return best
  }

  it("finds a shortest solution exactly when one exists (brute-force cross-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 2, maxLength: 4 }), fc.integer({ min: 1, max: 150 }), (numbers, target) => {
        const solution = Countdown.solve(numbers, target)
        const best = fewest(numbers, target)
        if (best === Infinity) expect(solution).toBeUndefined()
        else {
          expect(solution).toBeDefined()
          expect(Countdown.check(solution!, numbers, target).ok).toBe(true)
          expect(Countdown.operations(solution!)).toBe(best)
        }
      }),
      { numRuns: 150 }
    )
  })

  it("worked examples", () => {
    // Larger value on the left of + and *: 5*3 = 15 > 7, so "5*3+7".
    expect(Countdown.solve([3, 5, 7], 22)).toBe("5*3+7")
    expect(Countdown.check("7+5*3", [3, 5, 7], 22).ok).toBe(true)
    expect(Countdown.solve([1, 1], 5)).toBeUndefined()
    expect(Countdown.solve([4, 9], 9)).toBe("9")
    expect(Countdown.solve([2, 3, 4], 20)).toBe("(3+2)*4")
  })
})

describe("Countdown task", () => {
  it("prompt format and alphabet", () => {
    expect(Countdown.prompt([3, 5, 7], 22)).toBe("3 5 7 to 22:")
    expect(Countdown.alphabet).toBe(Alphabet.of("0123456789 +-*/()\n:to"))
  })

  it("every demonstration verifies, has the problem's step count, stays in the alphabet and within maxLength", () => {
    for (const split of ["train", "test", "ood"] as const) {
      const bound = task.maxLength!(split)
      const shape = split === "ood" ? task.oodShape : task.shape
      for (const p of task.split(split, { size: 60, seed: 11 })) {
        const demo = task.demonstration(p)
        const m = meta(p)
        expect(task.verify!(demo, p)).toBe(true)
        expect(Countdown.operations(p.answer)).toBe(m.steps)
        expect(m.steps).toBeGreaterThanOrEqual(shape.steps.min)
        expect(m.steps).toBeLessThanOrEqual(shape.steps.max)
        expect(p.prompt).toBe(Countdown.prompt(m.numbers, m.target))
        expect(Alphabet.firstOutside(p.prompt + demo, task.alphabet)).toBeUndefined()
        expect(p.prompt.length).toBeLessThanOrEqual(bound.prompt)
        expect(demo.length).toBeLessThanOrEqual(bound.completion)
      }
    }
  })

  it("splits are seeded, train/test disjoint, OOD outside the training shape", () => {
    const a = task.split("train", { size: 150, seed: 1 })
    expect(Countdown.task().split("train", { size: 150, seed: 1 })).toEqual(a)
    expect(task.split("train", { size: 150, seed: 2 }).map((p) => p.prompt)).not.toEqual(a.map((p) => p.prompt))
    const trainPrompts = new Set(a.map((p) => p.prompt))
    expect(task.split("test", { size: 150, seed: 1 }).filter((p) => trainPrompts.has(p.prompt))).toEqual([])
    for (const p of task.split("ood", { size: 40, seed: 1 })) {
      const m = meta(p)
      expect(m.numbers.length > task.shape.count.max || m.target > task.shape.target.max).toBe(true)
    }
  })

  it("corrupt gives a wrong completion", () => {
    const rng = Rng.seeded(9)
    for (const p of task.split("train", { size: 200, seed: 4 })) expect(task.verify!(task.corrupt!(p, rng), p)).toBe(false)
  })

  it("rejects impossible shapes", () => {
    expect(() => Countdown.task({ count: { min: 2, max: 2 }, steps: { min: 2, max: 3 } })).toThrow(/steps/)
    expect(() => Countdown.task({ values: { min: 0, max: 9 } })).toThrow(/values/)
    expect(() => Countdown.task({ ood: { count: { min: 1, max: 9 } } })).toThrow(/ood\.count/)
  })
})
