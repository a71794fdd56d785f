import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, existsSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 240_000 })

const tiny = [
  "--set", 'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2},"reversed":false}',
  "--set", 'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}',
  "--set", "sft.steps=20", "--set", "sft.target=false", "--set", "sft.examples=80", "--set", "rl.trainProblems=80",
  "--set", "rl.promptsPerStep=16", "--set", "rl.steps=4", "--set", "eval.problems=8", "--set", "eval.n=2"
]

describe("duet compare (built binary, tiny)", () => {
  it("runs k-GRPO under the protocol from one warm start, the budget run, the table and the report; a rerun resumes", () => {
    const out = join(mkdtempSync(join(tmpdir(), "duet-compare-")), "cmp")
    const r = duet(["compare", "--out", out, "--group-sizes", "2,4", "--seeds", "1", ...tiny])
    expect(r.status, r.stderr).toBe(0)
    for (const run of ["2-grpo-seed1", "4-grpo-seed1", "2-grpo-budget-seed1", "2-grpo-no-skip-seed1", "adaptive-2-to-4-seed1", "warmstart/seed1"]) {
      expect(existsSync(join(out, run, "summary.json")), run).toBe(true)
    }
    // The protocol: same rollouts per step (16 x 2 = 8 x 4), lr scaled with prompts per step, k/2 the steps.
    const recipe = (run: string) => JSON.parse(readFileSync(join(out, run, "recipe.json"), "utf8"))
    const two = recipe("2-grpo-seed1")
    const four = recipe("4-grpo-seed1")
    expect(four.rl.promptsPerStep * 4).toBe(two.rl.promptsPerStep * 2)
    expect(four.rl.lr).toBeCloseTo(two.rl.lr / 2, 12)
    expect(four.rl.steps).toBe(two.rl.steps * 2)
    expect(recipe("2-grpo-no-skip-seed1").rl.skipZeroAdvantage).toBe(false)
    expect(recipe("adaptive-2-to-4-seed1").rl.groupSize).toEqual({ kind: "adaptive", initial: 2, max: 4 })
    expect(r.stdout).toMatch(/4-grpo\s+4\s+1\s/)
    expect(r.stdout).toMatch(/Δ 4-grpo → 2-grpo/)
    expect(existsSync(join(out, "report.html"))).toBe(true)
    // Interrupted or not, running it again skips what is done.
    rmSync(join(out, "2-grpo-budget-seed1", "summary.json"))
    const again = duet(["compare", "--out", out, "--group-sizes", "2,4", "--seeds", "1", ...tiny])
    expect(again.status).toBe(0)
    expect(again.stderr).toMatch(/2-grpo seed 1 already done/)
    expect(again.stderr).toMatch(/2-grpo-budget seed 1 \(resuming\)/)
  }, 240_000)
  it("rejects a bad --group-sizes list", () => {
    const r = duet(["compare", "--group-sizes", "2,x"])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--group-sizes expects comma-separated positive integers/)
  })
})
