import { InvalidArgumentError } from "@duet/core"
import { describe, expect, it } from "vitest"
import { Arithmetic, Countdown, Demonstrations, type Problem, type Task } from "../src/index.js"

const task = Arithmetic.task()
const problems = task.split("train", { size: 1000, seed: 0 })

describe("Demonstrations", () => {
  it("by default: one correct demonstration per problem, in order", () => {
    const demos = Demonstrations.make(task, problems)
    expect(demos).toHaveLength(1000)
    demos.forEach((d, i) => {
      expect(d.prompt).toBe(problems[i]!.prompt)
      expect(d.completion).toBe(`${problems[i]!.answer}\n`)
    })
  })

  it("fraction keeps round(fraction * n) problems, a seeded subset", () => {
    const a = Demonstrations.labeled(task, problems, { fraction: 0.25, seed: 3 })
    expect(a).toHaveLength(250)
    expect(Demonstrations.labeled(task, problems, { fraction: 0.25, seed: 3 })).toEqual(a)
    const b = Demonstrations.labeled(task, problems, { fraction: 0.25, seed: 4 })
    expect(b.map((d) => d.problemId)).not.toEqual(a.map((d) => d.problemId))
    expect(Demonstrations.make(task, problems, { fraction: 0 })).toEqual([])
  })

  it("noise makes about that share wrong, and exactly those fail verification", () => {
    // 1000 Bernoulli(0.3) draws: Hoeffding with delta = 1e-6 gives |share - 0.3| <= sqrt(ln(2e6) / 2000) = 0.0853.
    for (const t of [task, Countdown.task()] as ReadonlyArray<Task.Task>) {
      const ps = t === task ? problems : t.split("train", { size: 300, seed: 0 })
      const demos = Demonstrations.labeled(t, ps, { noise: 0.3, seed: 1 })
      const byId = new Map(ps.map((p) => [p.id, p]))
      for (const d of demos) expect(t.verify!(d.completion, byId.get(d.problemId)!)).toBe(d.correct)
      const wrong = demos.filter((d) => !d.correct).length / demos.length
      expect(Math.abs(wrong - 0.3)).toBeLessThanOrEqual(Math.sqrt(Math.log(2e6) / (2 * demos.length)))
    }
  })

  it("where keeps only matching problems (e.g. a curriculum of easy ones)", () => {
    const easy = Demonstrations.labeled(task, problems, { where: (p) => (p.meta as Arithmetic.Meta).difficulty === 1 })
    expect(easy.length).toBeGreaterThan(0)
    expect(easy.every((d) => /^\d[-+*]\d=$/.test(d.prompt))).toBe(true)
  })

  it("rejects out-of-range knobs and noise on a task that cannot corrupt", () => {
    expect(() => Demonstrations.make(task, problems, { fraction: 1.5 })).toThrow(InvalidArgumentError)
    expect(() => Demonstrations.make(task, problems, { noise: -0.1 })).toThrow(/noise/)
    const { corrupt: _, ...plain } = task
    expect(() => Demonstrations.make(plain, problems, { noise: 0.1 })).toThrow(/cannot corrupt/)
  })

  it("refuses a corrupt() that returns a correct completion", () => {
    const liar: Task.Task = { ...task, corrupt: (p: Problem) => task.demonstration(p) }
    expect(() => Demonstrations.make(liar, problems, { noise: 1 })).toThrow(/returned a correct completion/)
  })
})
