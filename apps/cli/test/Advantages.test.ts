import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[], stdin: string) => {
  const r = spawnSync(process.execPath, [bin, ...args], { input: stdin, encoding: "utf8" })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
const advantages = (estimator: string, doc: unknown, extra: string[] = []) => {
  const r = duet(["advantages", "--estimator", estimator, ...extra], JSON.stringify(doc))
  expect(r.err).toBe("")
  expect(r.code).toBe(0)
  return (JSON.parse(r.out) as { advantages: number[] }).advantages
}
const close = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length)
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 6))
}

describe("duet advantages (built binary, REFERENCE.md worked numbers)", () => {
  const pair = { rewards: [1, 0], groups: [0, 0] }
  const four = { rewards: [1, 0, 0, 0], groups: [0, 0, 0, 0] }
  it("[1,0]: grpo ±0.70710578, dr-grpo ±0.5, rloo ±1, 2-grpo = grpo", () => {
    close(advantages("grpo", pair), [0.70710578, -0.70710578])
    close(advantages("dr-grpo", pair), [0.5, -0.5])
    close(advantages("rloo", pair), [1, -1])
    close(advantages("2-grpo", pair), [0.70710578, -0.70710578])
  })
  it("[1,0,0,0]: grpo 1.499997 / -0.499999, dr-grpo 0.75 / -0.25, rloo 1 / -1/3", () => {
    close(advantages("grpo", four), [1.499997, -0.499999, -0.499999, -0.499999])
    close(advantages("dr-grpo", four), [0.75, -0.25, -0.25, -0.25])
    close(advantages("rloo", four), [1, -1 / 3, -1 / 3, -1 / 3])
  })
  it("flags: --std population and --eps reach the estimator", () => {
    close(advantages("2-grpo", pair, ["--std", "population"]), [1 / (1 + 2e-6), -1 / (1 + 2e-6)])
    close(advantages("grpo", pair, ["--eps", "1e-4"]), [0.5 / (Math.SQRT1_2 + 1e-4), -0.5 / (Math.SQRT1_2 + 1e-4)])
  })
  it("grpo-passk (from the registry): the best row gets its margin; --option reaches any registry option and is checked", () => {
    close(advantages("grpo-passk", four), [1.999996, 0, 0, 0])
    close(advantages("grpo-passk", four, ["--option", "scaleByStd=false"]), [1, 0, 0, 0])
    close(advantages("reinforce-pp-baseline", { rewards: [1, 0], groups: [0, 0], lengths: [1, 1] }, ["--eps", "0.5"]), [0.5 / Math.sqrt(0.5 + 0.5), -0.5 / Math.sqrt(0.5 + 0.5)])
    const r = duet(["advantages", "--estimator", "rloo", "--option", "eps=1"], JSON.stringify(pair))
    expect(r.code).not.toBe(0)
    expect(r.err).toMatch(/rloo has no option "eps"; it takes none/)
  })
  it("reinforce-pp-baseline reads lengths", () => {
    const a = advantages("reinforce-pp-baseline", { rewards: [1, 0, 0, 1], groups: [0, 0, 1, 1], lengths: [3, 5, 2, 4] })
    expect(a).toHaveLength(4)
    expect(a[0]).toBeGreaterThan(0)
    expect(a[1]).toBeLessThan(0)
  })
})

describe("duet advantages: bad input is one line on stderr and exit code 2", () => {
  const bad = (args: string[], stdin: string, message: RegExp) => {
    const r = duet(["advantages", ...args], stdin)
    expect(r.code).toBe(2)
    expect(r.out).toBe("")
    expect(r.err.trim().split("\n")).toHaveLength(1)
    expect(r.err).toMatch(message)
  }
  it("invalid JSON", () => bad(["--estimator", "grpo"], "{nope", /duet advantages: stdin is not valid JSON/))
  it("mismatched lengths", () =>
    bad(["--estimator", "grpo"], '{"rewards":[1,0],"groups":[0]}', /"groups" has 1 entries but "rewards" has 2/))
  it("a singleton group", () =>
    bad(["--estimator", "grpo"], '{"rewards":[1,0,1],"groups":[0,0,7]}', /group 7 has 1 rollout, needs at least 2/))
  it("2-grpo on a group of 3", () =>
    bad(["--estimator", "2-grpo"], '{"rewards":[1,0,1],"groups":[0,0,0]}', /2-grpo: group 0 has 3 rollouts, needs exactly 2/))
  it("a non-number reward", () => bad(["--estimator", "rloo"], '{"rewards":[1,null],"groups":[0,0]}', /rewards\[1\] must be a finite number/))
  it("missing lengths for reinforce-pp-baseline", () =>
    bad(["--estimator", "reinforce-pp-baseline"], '{"rewards":[1,0],"groups":[0,0]}', /give "lengths"/))
  it("an unknown estimator exits 2", () => {
    const r = duet(["advantages", "--estimator", "bogus"], "{}")
    expect(r.code).toBe(2)
    expect(r.out + r.err).toMatch(/Invalid value for flag --estimator/)
  })
})

describe("duet --help", () => {
  it("lists the subcommands", () => {
    const r = duet(["--help"], "")
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/advantages/)
  })
})
