import { describe, expect, it } from "vitest"
import { AdvantageTransform, Scores, chain, stateless } from "../src/index.js"
import type { Transform } from "../src/index.js"

const addConst = (c: number) =>
  stateless(`add(${c})`, 1, (s) => Scores.withValues(s, s.values.map((v) => v + c)))
const times = (c: number) => stateless(`times(${c})`, 2, (s) => Scores.withValues(s, s.values.map((v) => v * c)))

/** A stateful transform: counts calls, adds the count. */
const counter: Transform<number> = {
  name: "counter",
  minGroupSize: 1,
  init: () => 0,
  update: (s, n) => [Scores.withValues(s, s.values.map((v) => v + n)), n + 1]
}

describe("chain", () => {
  const scores = Scores.make([1, 2, 3], [0, 0, 0])
  it("applies left to right", () => {
    const out = AdvantageTransform.apply(chain(addConst(1), times(10)), scores)
    expect(Array.from(out.values)).toEqual([20, 30, 40])
    const rev = AdvantageTransform.apply(chain(times(10), addConst(1)), scores)
    expect(Array.from(rev.values)).toEqual([11, 21, 31])
  })
  it("takes the largest minimum group size and joins names", () => {
    const t = chain(addConst(1), times(2))
    expect(t.minGroupSize).toBe(2)
    expect(t.name).toBe("add(1) > times(2)")
  })
  it("threads each part's state explicitly", () => {
    const t = chain(counter, addConst(0), counter)
    let state = t.init()
    expect(state).toEqual([0, undefined, 0])
    let out: Scores.Scores
    ;[out, state] = t.update(scores, state, { step: 0 })
    expect(Array.from(out.values)).toEqual([1, 2, 3])
    ;[out, state] = t.update(scores, state, { step: 1 })
    expect(Array.from(out.values)).toEqual([3, 4, 5])
    expect(state).toEqual([2, undefined, 2])
  })
  it("does not mutate its input", () => {
    const s = Scores.make([1, 2], [0, 0])
    AdvantageTransform.apply(chain(addConst(5)), s)
    expect(Array.from(s.values)).toEqual([1, 2])
  })
  it("an empty chain is the identity", () => {
    const out = AdvantageTransform.apply(chain(), scores)
    expect(out.values).toBe(scores.values)
  })
})
