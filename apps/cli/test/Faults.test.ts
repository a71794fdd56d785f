/**
 * Issue 13 end to end on the built binary: bad recipes fail up front (exit 2, one line naming the
 * field), SIGTERM/SIGINT stop every phase (exit 130) and leave the run resumable, and `--resume`
 * refuses another recipe.
 */
import { describe, expect, it } from "vitest"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/duet.js", import.meta.url))
const duet = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000 })
const tmp = () => mkdtempSync(join(tmpdir(), "duet-cli-faults-"))

const tiny = [
  "--set", 'task={"kind":"arithmetic","ops":["+"],"digits":{"min":1,"max":1},"oodDigits":{"min":2,"max":2}}',
  "--set", 'model={"nLayer":1,"nHead":2,"nEmbd":32,"blockSize":16}',
  "--set", "sft.target=false", "--set", "sft.examples=60", "--set", "rl.trainProblems=60",
  "--set", "rl.promptsPerStep=16", "--set", "eval.n=2", "--set", "eval.problems=8", "--set", "checkpointEvery=1"
]

/** Starts `duet args`, sends `signal` once stderr matches `when`, resolves with the exit code and stderr. */
const interrupt = (args: string[], when: RegExp, signal: NodeJS.Signals, delayMs = 0) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    let sent = false
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString()
      if (!sent && when.test(stderr)) {
        sent = true
        setTimeout(() => child.kill(signal), delayMs)
      }
    })
    // Never leave a child behind if the pattern does not show up.
    const guard = setTimeout(() => child.kill("SIGKILL"), 45_000)
    child.on("exit", (code) => {
      clearTimeout(guard)
      resolve({ code, stderr })
    })
  })

describe("bad recipes fail up front, naming the field (exit 2)", () => {
  it.each([
    [["--set", "sft.examples=100000000"], /^duet train: recipe: sft\.examples: is 100,000,000, but the arithmetic task has at most 20,000/],
    [["--set", "rl.maxGradNorm=0"], /^duet train: recipe: rl\.maxGradNorm: Expected a value greater than 0/],
    [["--set", "rl.sampling.topP=0"], /^duet train: recipe: rl\.sampling\.topP: Expected a value greater than 0/],
    [["--set", "name=../../../elsewhere/x"], /^duet train: recipe: name: .* is not a plain name/],
    [["--set", 'name=""'], /^duet train: recipe: name: is empty/]
  ])("%j", (args, message) => {
    const r = duet(["train", ...args, "--out", join(tmp(), "run")])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(message)
  })
  it("a list recipe file, even with --set", () => {
    const file = join(tmp(), "list.yaml")
    writeFileSync(file, "- a\n- b\n")
    const r = duet(["train", "--recipe", file, "--set", "rl.steps=1", "--out", join(tmp(), "run")])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/a recipe file must be a mapping of fields/)
  })
})

describe("SIGINT / SIGTERM stop every phase (exit 130)", () => {
  it("during SFT: nothing to resume yet, and it says so", async () => {
    const r = await interrupt(["train", ...tiny, "--set", "sft.steps=100000", "--out", join(tmp(), "run")], /model: /, "SIGINT", 300)
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/interrupted before the first checkpoint/)
  }, 60_000)
  it("during an evaluation", async () => {
    const r = await interrupt(["train", ...tiny, "--set", "sft.steps=1", "--set", "eval.n=50000", "--out", join(tmp(), "run")], /model: /, "SIGTERM", 2000)
    expect(r.code).toBe(130)
  }, 60_000)
  it("during RL: resumable with --resume alone (the run's own recipe), another recipe refused", async () => {
    const out = join(tmp(), "run")
    const r = await interrupt(["train", ...tiny, "--set", "sft.steps=5", "--set", "eval.problems=4", "--set", "rl.steps=100000", "--out", out], /eval before \(step 0\)/, "SIGTERM", 1500)
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/interrupted; continue from the last checkpoint with: duet train --out .* --resume/)
    const other = duet(["train", ...tiny, "--set", "seed=5", "--out", out, "--resume"])
    expect(other.status).toBe(2)
    expect(other.stderr).toMatch(/--resume: the recipe differs from the run's .*: (.*; )?seed: 1 -> 5/)
    const again = await interrupt(["train", "--out", out, "--resume"], /resumed from .*step-\d+ \(step \d+\)/, "SIGTERM", 200)
    expect(again.code).toBe(130)
  }, 90_000)
})
