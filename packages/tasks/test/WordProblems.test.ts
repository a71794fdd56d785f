import { Rng } from "@duet/core"
import { describe, expect, it } from "vitest"
import { Alphabet, WordProblems } from "../src/index.js"

const task = WordProblems.task()
const meta = (p: { meta?: unknown }) => p.meta as WordProblems.Meta

describe("WordProblems", () => {
  it("worked example: prompt, steps demonstration, verification of the #### number", () => {
    const m: WordProblems.Meta = { start: 5, events: [{ kind: "add", n: 3 }, { kind: "sub", n: 2 }, { kind: "mul", n: 3 }], steps: 3, difficulty: 3 }
    const p = { id: "x", prompt: "unused", answer: "18", meta: m }
    expect(task.demonstration(p)).toBe("5+3=8 8-2=6 6*3=18 #### 18\n")
    expect(WordProblems.task({ demo: "answer" }).demonstration(p)).toBe("18\n")
    expect(task.verify!("#### 18", p)).toBe(true)
    expect(task.verify!("18\n", p)).toBe(true)
    expect(task.verify!("5+3=8 #### 17\n", p)).toBe(false)
  })

  it("every demonstration verifies, answers are plain non-negative integers, within alphabet and bounds", () => {
    for (const t of [task, WordProblems.task({ demo: "answer", steps: { min: 2, max: 3 }, values: { min: 1, max: 20 } })]) {
      for (const split of ["train", "test", "ood"] as const) {
        const bound = t.maxLength!(split)
        for (const p of t.split(split, { size: 200, seed: 2 })) {
          const demo = t.demonstration(p)
          expect(t.verify!(demo, p)).toBe(true)
          expect(p.answer).toMatch(/^(0|[1-9]\d*)$/)
          expect(Alphabet.firstOutside(p.prompt + demo, t.alphabet)).toBeUndefined()
          expect(p.prompt.length).toBeLessThanOrEqual(bound.prompt)
          expect(demo.length).toBeLessThanOrEqual(bound.completion)
        }
      }
    }
  })

  it("seeded, train/test disjoint, OOD has more events than training", () => {
    const train = task.split("train", { size: 300, seed: 1 })
    expect(WordProblems.task().split("train", { size: 300, seed: 1 })).toEqual(train)
    const prompts = new Set(train.map((p) => p.prompt))
    expect(task.split("test", { size: 100, seed: 1 }).filter((p) => prompts.has(p.prompt))).toEqual([])
    expect(Math.max(...train.map((p) => meta(p).steps))).toBe(2)
    expect(task.split("ood", { size: 100, seed: 1 }).every((p) => meta(p).steps === 3)).toBe(true)
  })

  it("corrupt keeps the steps and breaks the total", () => {
    const rng = Rng.seeded(1)
    for (const p of task.split("train", { size: 300, seed: 0 })) expect(task.verify!(task.corrupt!(p, rng), p)).toBe(false)
  })

  it("rejects OOD steps that overlap training", () => {
    expect(() => WordProblems.task({ steps: { min: 1, max: 3 }, oodSteps: { min: 3, max: 4 } })).toThrow(/oodSteps/)
  })
})
