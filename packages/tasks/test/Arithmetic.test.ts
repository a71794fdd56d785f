import { InvalidArgumentError, Rng } from "@duet/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Alphabet, Arithmetic, Partition } from "../src/index.js"

fc.configureGlobal({ seed: 42, numRuns: 50 })

const task = Arithmetic.task()
const meta = (p: { meta?: unknown }) => p.meta as Arithmetic.Meta

describe("Arithmetic prompts and demonstrations", () => {
  it("writes a worked problem as prompt 'a op b=' and completion 'answer\\n'", () => {
    const p = { id: "x", prompt: "47+85=", answer: "132", meta: { op: "+", a: 47, b: 85, digits: [2, 2], difficulty: 2 } }
    expect(task.demonstration(p)).toBe("132\n")
    expect(task.verify!("132\n", p)).toBe(true)
    expect(task.verify!("132", p)).toBe(true) // stop already stripped
    expect(task.verify!(" 132 \nrest", p)).toBe(true)
    expect(task.verify!("133\n", p)).toBe(false)
    expect(task.verify!("0132\n", p)).toBe(false)
    expect(task.verify!("", p)).toBe(false)
    const r = Arithmetic.task({ reversed: true })
    expect(r.demonstration(p)).toBe("231\n")
    expect(r.verify!("231", p)).toBe(true)
    expect(r.verify!("132", p)).toBe(false)
  })

  it("renders negatives sign first, digits reversed only when asked", () => {
    expect(Arithmetic.render(-120, false)).toBe("-120")
    expect(Arithmetic.render(-120, true)).toBe("-021")
    expect(Arithmetic.render(0, true)).toBe("0")
  })

  it("every demonstration of every split verifies, stays in the alphabet and within maxLength", () => {
    for (const config of [{}, { reversed: true }, { negative: true, digits: { min: 2, max: 3 } }] as const) {
      const t = Arithmetic.task(config)
      for (const split of ["train", "test", "ood"] as const) {
        const bound = t.maxLength!(split)
        for (const p of t.split(split, { size: 300, seed: 3 })) {
          const demo = t.demonstration(p)
          expect(t.verify!(demo, p)).toBe(true)
          expect(demo.endsWith(t.stop)).toBe(true)
          expect(Alphabet.firstOutside(p.prompt + demo, t.alphabet)).toBeUndefined()
          expect(p.prompt.length).toBeLessThanOrEqual(bound.prompt)
          expect(demo.length).toBeLessThanOrEqual(bound.completion)
          const { op, a, b } = meta(p)
          expect(p.prompt).toBe(`${a}${op}${b}=`)
          expect(BigInt(p.answer)).toBe(op === "+" ? BigInt(a) + BigInt(b) : op === "-" ? BigInt(a) - BigInt(b) : BigInt(a) * BigInt(b))
        }
      }
    }
  })

  it("maxLength is reached: 99*99= is 6 chars, 9801\\n is 5", () => {
    expect(task.maxLength!("train")).toEqual({ prompt: 6, completion: 5 })
    expect(task.maxLength!("ood")).toEqual({ prompt: 8, completion: 7 })
  })

  it("corrupt gives a wrong answer in the alphabet, for every problem", () => {
    const rng = Rng.seeded(5)
    for (const [t, form] of [
      [task, /^-?(0|[1-9]\d*)\n$/],
      [Arithmetic.task({ reversed: true, negative: true }), /^-?\d+\n$/]
    ] as const) {
      for (const p of t.split("train", { size: 500, seed: 1 })) {
        const wrong = t.corrupt!(p, rng)
        expect(t.verify!(wrong, p)).toBe(false)
        expect(wrong.endsWith("\n")).toBe(true)
        expect(Alphabet.firstOutside(wrong, t.alphabet)).toBeUndefined()
        expect(wrong).toMatch(form)
      }
    }
  })
})

describe("Arithmetic splits", () => {
  it("same seed, same problems; another seed, other problems", () => {
    const a = task.split("train", { size: 200, seed: 7 })
    const b = Arithmetic.task().split("train", { size: 200, seed: 7 })
    const c = task.split("train", { size: 200, seed: 8 })
    expect(b).toEqual(a)
    expect(c.map((p) => p.prompt)).not.toEqual(a.map((p) => p.prompt))
    // A smaller request is a prefix of a larger one with the same seed.
    expect(task.split("train", { size: 50, seed: 7 })).toEqual(a.slice(0, 50))
  })

  it("pins the first problems of seed 0 (a changed generator shows up here)", () => {
    expect(task.split("train", { size: 4, seed: 0 }).map((p) => p.prompt + p.answer)).toMatchInlineSnapshot(`
      [
        "4+3=7",
        "51*10=510",
        "3*51=153",
        "48*2=96",
      ]
    `)
  })

  it("train and test are disjoint for any seeds, and prompts within a split are distinct", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }), (s1, s2) => {
        const train = task.split("train", { size: 400, seed: s1 })
        const test = task.split("test", { size: 100, seed: s2 })
        const trainPrompts = new Set(train.map((p) => p.prompt))
        expect(trainPrompts.size).toBe(train.length)
        expect(new Set(test.map((p) => p.prompt)).size).toBe(test.length)
        expect(test.filter((p) => trainPrompts.has(p.prompt))).toEqual([])
      }),
      { numRuns: 10 }
    )
  })

  it("OOD problems have an operand longer than any train operand", () => {
    const t = Arithmetic.task({ digits: { min: 1, max: 3 }, oodDigits: { min: 2, max: 5 } })
    const trainMax = Math.max(...t.split("train", { size: 1000, seed: 0 }).map((p) => Math.max(...meta(p).digits)))
    expect(trainMax).toBe(3)
    const ood = t.split("ood", { size: 300, seed: 0 })
    for (const p of ood) {
      expect(Math.max(...meta(p).digits)).toBeGreaterThan(3)
      expect(Math.max(String(meta(p).a).length, String(meta(p).b).length)).toBe(meta(p).difficulty)
    }
  })

  it("subtraction never goes negative unless asked", () => {
    const sub = Arithmetic.task({ ops: ["-"] }).split("train", { size: 500, seed: 2 })
    expect(sub.every((p) => !p.answer.startsWith("-"))).toBe(true)
    const neg = Arithmetic.task({ ops: ["-"], negative: true }).split("train", { size: 500, seed: 2 })
    expect(neg.some((p) => p.answer.startsWith("-"))).toBe(true)
  })

  it("the held-out share is about testShare of the problem space (Hoeffding bound), and the sampler finds all of it", () => {
    // All 2-digit '+' problems: 8100 prompts, each on the test side with probability 0.2 if the hash
    // is uniform. Hoeffding with delta = 1e-6: |share - 0.2| <= sqrt(ln(2/1e-6) / (2 * 8100)) = 0.0300.
    const t = Arithmetic.task({ ops: ["+"], digits: { min: 2, max: 2 } })
    const partition = Partition.make(0.2, "arithmetic")
    let count = 0
    for (let a = 10; a < 100; a++) for (let b = 10; b < 100; b++) if (Partition.sideOf(partition, `${a}+${b}=`) === "test") count++
    expect(Math.abs(count / 8100 - 0.2)).toBeLessThanOrEqual(Math.sqrt(Math.log(2 / 1e-6) / (2 * 8100)))
    const test = t.split("test", { size: count, seed: 0 })
    expect(test.every((p) => Partition.sideOf(partition, p.prompt) === "test")).toBe(true)
    expect(() => t.split("test", { size: count + 1, seed: 0 })).toThrow(`only ${count} distinct test problems`)
  })

  it("rejects bad configs and options with the field name", () => {
    expect(() => Arithmetic.task({ digits: { min: 3, max: 2 } })).toThrow(InvalidArgumentError)
    expect(() => Arithmetic.task({ digits: { min: 1, max: 3 }, oodDigits: { min: 1, max: 3 } })).toThrow(/oodDigits/)
    expect(() => Arithmetic.task({ ops: [] })).toThrow(/ops/)
    expect(() => Arithmetic.task({ oodDigits: { min: 8, max: 8 } })).toThrow(/oodDigits/)
    expect(() => task.split("train", { size: -1, seed: 0 })).toThrow(/size/)
    expect(() => task.split("train", { size: 1.5, seed: 0 })).toThrow(/size/)
    expect(() => task.split("train", { size: 1, seed: Number.NaN })).toThrow(/seed/)
    expect(() => Arithmetic.task({ testShare: 1 })).toThrow(/testShare/)
  })
})
