import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" })

describe("duet theory (built binary)", () => {
  it("prints the exact constants of the unbiased estimators and flags GRPO's bias", () => {
    const r = duet(["theory"])
    expect(r.status).toBe(0)
    const line = (est: string, k: number, g: number) =>
      r.stdout.split("\n").find((l) => new RegExp(`^${est}\\s+${k}\\s+${g}\\s`).test(l)) ?? ""
    expect(line("rloo", 3, 4)).toMatch(/unbiased: E\[g\] = grad J/)
    expect(line("dr-grpo", 3, 8)).toMatch(/E\[g\] = 0\.875 grad J \(= 1 - 1\/G\)/)
    expect(line("2-grpo", 3, 2)).toMatch(/E\[g\] = 0\.7071057\d grad J/)
    expect(line("grpo", 3, 8)).toMatch(/^grpo.*biased: per-prompt c/)
    expect(r.stdout).toMatch(/Propositions:/)
  })
  it("restricts to the estimators and sizes asked for", () => {
    const r = duet(["theory", "--estimator", "rloo", "--arms", "3", "--group-size", "4"])
    expect(r.status).toBe(0)
    const rows = r.stdout.split("\n").filter((l) => /^(grpo|dr-grpo|2-grpo|rloo|reinforce-pp-baseline)\s+\d/.test(l))
    expect(rows).toEqual([expect.stringMatching(/^rloo\s+3\s+4\s+1\s/)])
  })
  it("--recipe FILE.ts analyses the user's estimator beside the built-ins (examples/custom-estimator.ts: RLOO at G = 2, biased at G = 4)", () => {
    const recipe = fileURLToPath(new URL("../../../examples/custom-estimator.ts", import.meta.url))
    const r = duet(["theory", "--recipe", recipe, "--estimator", "rloo", "--arms", "3"])
    expect(r.status).toBe(0)
    const line = (est: string, g: number) => r.stdout.split("\n").find((l) => new RegExp(`^${est}\\s+3\\s+${g}\\s`).test(l)) ?? ""
    expect(line("mean-sign", 2)).toMatch(/unbiased: E\[g\] = grad J/)
    expect(line("mean-sign", 4)).toMatch(/biased: per-prompt c/)
    expect(line("rloo", 4)).toMatch(/unbiased: E\[g\] = grad J/)
    const plain = duet(["theory", "--recipe", fileURLToPath(new URL("../../../recipes/rloo.yaml", import.meta.url))])
    expect(plain.status).toBe(2)
    expect(plain.stderr).toMatch(/give a TypeScript\/JavaScript recipe whose defineTrainer has an estimator/)
  })
  it("rejects out-of-range sizes with exit code 2", () => {
    const r = duet(["theory", "--arms", "40"])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--arms must be between 2 and 16/)
  })
})
