/** The "Writing your own" example of docs/estimators.md, run as written. */
import { describe, expect, it } from "vitest"
import { AdvantageTransform, Scores, chain, named, stateless } from "@duet/core"
import { grpo, scaleByGroupStd, subtractLeaveOneOutMean } from "../src/index.js"

describe("docs/estimators.md example", () => {
  it("rloo-std with a clip", () => {
    const clipTo = (c: number) => stateless(`clip(${c})`, 1, (s) => Scores.withValues(s, s.values.map((v) => Math.min(c, Math.max(-c, v)))))
    const rlooStd = named("rloo-std", chain(subtractLeaveOneOutMean(), scaleByGroupStd({ eps: 1e-6 }), clipTo(1.2)))
    const out = Array.from(AdvantageTransform.apply(rlooStd, Scores.make([1, 0, 0, 0], [0, 0, 0, 0])).values)
    // rloo gives [1, -1/3 x3], unbiased std 2/3: [1, -1/3] / (2/3 + 1e-6) = [1.4999978, -0.4999993]; clip at 1.2
    const d = 2 / 3 + 1e-6
    expect(out[0]).toBe(1.2)
    for (const x of out.slice(1)) expect(Math.abs(x - -1 / 3 / d)).toBeLessThan(1e-15)
    expect(Math.abs(out[1]! - -0.4999992)).toBeLessThan(1e-6)
    expect(rlooStd.name).toBe("rloo-std")
    // without the clip it is GRPO up to eps (std normalisation cancels RLOO's n/(n-1))
    const unclipped = AdvantageTransform.apply(chain(subtractLeaveOneOutMean(), scaleByGroupStd({ eps: 0 })), Scores.make([1, 0, 0, 0], [0, 0, 0, 0])).values
    const g = AdvantageTransform.apply(grpo({ eps: 0 }), Scores.make([1, 0, 0, 0], [0, 0, 0, 0])).values
    for (let i = 0; i < 4; i++) expect(Math.abs(unclipped[i]! - g[i]!)).toBeLessThan(1e-15)
  })
})
