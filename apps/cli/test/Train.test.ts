import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[], input = "") => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", input, timeout: 240_000 })

const tiny = [
  "--set", 'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2}}',
  "--set", 'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}',
  "--set", "sft.steps=20", "--set", "sft.target=false", "--set", "sft.examples=80", "--set", "rl.trainProblems=80",
  "--set", "rl.promptsPerStep=16", "--set", "rl.steps=3", "--set", "eval.problems=8", "--set", "eval.n=2",
  "--set", "checkpointEvery=0"
]

describe("duet train / sft / eval (built binary)", () => {
  it("trains, prints the before/after table, and the checkpoint evaluates with duet eval", () => {
    const out = join(mkdtempSync(join(tmpdir(), "duet-cli-")), "run")
    const r = duet(["train", ...tiny, "--out", out])
    expect(r.stderr + r.stdout).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/split\s+metric\s+before\s+after\s+delta/)
    expect(r.stdout).toMatch(/test\s+Mean@2\s+[\d.]+%\s+[\d.]+%/)
    expect(r.stdout).toMatch(/ood\s+Pass@2/)
    expect(existsSync(join(out, "checkpoints", "step-000003", "model.safetensors"))).toBe(true)
    const e = duet(["eval", join(out, "checkpoints", "step-000003"), "--n", "2"])
    expect(e.status).toBe(0)
    expect(e.stdout).toMatch(/^test\s+Mean@2 [\d.]+%\s+Pass@2 [\d.]+%/m)
  }, 240_000)

  it("--resume continues a finished run's directory without redoing the warm start", () => {
    const out = join(mkdtempSync(join(tmpdir(), "duet-cli-")), "run")
    expect(duet(["train", ...tiny, "--set", "rl.steps=2", "--out", out]).status).toBe(0)
    const r = duet(["train", ...tiny, "--set", "rl.steps=4", "--out", out, "--resume"])
    expect(r.status).toBe(0)
    expect(r.stderr).toMatch(/resumed from .*step-000002 \(step 2\)/)
    expect(r.stderr).not.toMatch(/sft \d+\//)
  }, 240_000)

  it("a bad recipe is one line naming the file and the field, exit code 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-cli-"))
    const recipe = join(dir, "bad.yaml")
    writeFileSync(recipe, "rl:\n  estimator: { kind: grpo }\n  groupSize: { kind: fixed, size: 1 }\n")
    const r = duet(["train", "--recipe", recipe, "--out", join(dir, "run")])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/bad\.yaml: rl\.groupSize\.size: Expected a value greater than or equal to 2|bad\.yaml: rl\.groupSize\.size: group estimators need at least 2/)
    const typo = duet(["train", "--set", "rl.stpes=3"])
    expect(typo.status).toBe(2)
    expect(typo.stderr).toMatch(/rl\.stpes: Expected no excess property/)
  })

  it("duet sft runs the warm start alone", () => {
    const out = join(mkdtempSync(join(tmpdir(), "duet-cli-")), "run")
    const r = duet(["sft", ...tiny, "--out", out])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/0 RL steps/)
  }, 240_000)
})

describe("duet verify (built binary)", () => {
  it("grades JSONL rows and reports bad lines by number", () => {
    const ok = duet(["verify"], '{"pred":"so \\\\boxed{\\\\frac{1}{2}}","gold":"0.5"}\n{"pred":"12","gold":"13"}\n')
    expect(ok.status).toBe(0)
    const rows = ok.stdout.trim().split("\n").map((l) => JSON.parse(l) as { correct: boolean })
    expect(rows.map((r) => r.correct)).toEqual([true, false])
    expect(ok.stderr).toMatch(/1\/2 correct/)
    const bad = duet(["verify", "--strict"], '{"pred":"1","gold":"1"}\n{"pred":1}\n')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/line 2: missing field "gold"/)
  })

  it("streams rows, accepts a BOM, writes a bad row as an error line and goes on, never writes 1e999 as null", () => {
    const deep = `{"pred":"1","gold":"1","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
    const r = duet(["verify"], `\uFEFF{"pred":"1","gold":"1","s":1e999}\n{bad\n${deep}\n{"pred":"2","gold":"3"}\n`)
    expect(r.status).toBe(0)
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(rows.map((x) => [x.line, x.correct])).toEqual([[undefined, true], [2, false], [3, false], [undefined, false]])
    expect(rows[0]!.s).toBe("Infinity")
    expect(rows[1]!.error).toMatch(/^invalid JSON/)
    expect(r.stderr).toMatch(/1\/4 correct .* 2 bad rows/)
  })
})
