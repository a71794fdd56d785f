/**
 * Run directories written by hand in the format of the pipeline's `Train.train` (recipe.json,
 * metrics.jsonl, summary.json), so the report is tested without training anything.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface EvalSpec {
  readonly phase: "before" | "during" | "after"
  readonly step: number
  readonly split: "test" | "ood"
  readonly meanAtN: number
  readonly passAtN: number
}

export interface RunSpec {
  readonly method: string
  readonly seed: number
  readonly groupSize: number
  readonly steps: number
  /** Prompts per step (default 8): step s has generated groupSize * prompts * (s + 1) rollouts. */
  readonly prompts?: number
  /** Tokens per rollout (default 5). */
  readonly tokensPerRollout?: number
  /** The clock at the end of step s is sftSeconds + stepSeconds * (s + 1). */
  readonly sftSeconds: number
  readonly stepSeconds: number
  readonly reward: (step: number) => number
  readonly fracZeroStd: (step: number) => number
  readonly evals: ReadonlyArray<EvalSpec>
  /** Write summary.json (default true). */
  readonly finished?: boolean
  /** Raw text appended to metrics.jsonl (a torn line, a bad record). */
  readonly append?: string
  readonly n?: number
}

export const tempDir = (prefix = "duet-report-") => mkdtempSync(join(tmpdir(), prefix))

export const recipeOf = (spec: RunSpec) => ({
  name: spec.method,
  seed: spec.seed,
  task: { kind: "arithmetic", ops: ["+", "-", "*"], digits: { min: 1, max: 2 }, oodDigits: { min: 3, max: 3 } },
  model: { nLayer: 2, nHead: 4, nEmbd: 96, blockSize: 32 },
  sft: { steps: 300, batchSize: 64, lr: 0.003, examples: 2000, noise: 0 },
  rl: {
    steps: spec.steps,
    promptsPerStep: spec.prompts ?? 8,
    groupSize: { kind: "fixed", size: spec.groupSize },
    estimator: { kind: spec.groupSize === 2 ? "2-grpo" : "grpo" },
    loss: { kind: "ppo-clip" },
    aggregation: "token-mean",
    lr: 0.001
  },
  eval: { n: spec.n ?? 8, problems: 200, every: 5 },
  checkpointEvery: 50
})

/** Writes one run directory at `dir` (created) and returns it. */
export const writeRun = (dir: string, spec: RunSpec): string => {
  mkdirSync(join(dir, "checkpoints"), { recursive: true })
  const prompts = spec.prompts ?? 8
  const perRollout = spec.tokensPerRollout ?? 5
  const n = spec.n ?? 8
  writeFileSync(join(dir, "recipe.json"), JSON.stringify(recipeOf(spec), null, 2) + "\n")
  const lines: unknown[] = [{ kind: "sft", step: 290, loss: 0.4, lr: 0.0003, time: spec.sftSeconds }]
  const evalRecord = (e: EvalSpec) => ({ kind: "eval", phase: e.phase, step: e.step, split: e.split, problems: 200, n, meanAtN: e.meanAtN, passAtN: e.passAtN, meanResponseTokens: 4 })
  for (const e of spec.evals.filter((e) => e.step === 0)) lines.push(evalRecord(e))
  for (let s = 0; s < spec.steps; s++) {
    const rollouts = spec.groupSize * prompts * (s + 1)
    lines.push({
      kind: "rl",
      step: s,
      "critic/rewards/mean": spec.reward(s),
      "critic/rewards/std": 0.3,
      frac_zero_std_groups: spec.fracZeroStd(s),
      "actor/pg_loss": 0.01,
      "actor/grad_norm": 0.5,
      rollouts: spec.groupSize * prompts,
      "rollouts/total": rollouts,
      "tokens/total": rollouts * perRollout,
      "timing_s/step": spec.stepSeconds,
      "time/total_s": spec.sftSeconds + spec.stepSeconds * (s + 1)
    })
    for (const e of spec.evals.filter((e) => e.step === s + 1)) lines.push(evalRecord(e))
  }
  writeFileSync(join(dir, "metrics.jsonl"), lines.map((l) => JSON.stringify(l) + "\n").join("") + (spec.append ?? ""))
  if (spec.finished ?? true) {
    const rollouts = spec.groupSize * prompts * spec.steps
    const summary = {
      recipe: spec.method,
      steps: spec.steps,
      rollouts,
      tokens: rollouts * perRollout,
      seconds: { sft: spec.sftSeconds, rl: spec.stepSeconds * spec.steps, eval: 1, total: spec.sftSeconds + spec.stepSeconds * spec.steps + 1 },
      before: spec.evals.filter((e) => e.phase === "before").map((e) => ({ split: e.split, problems: 200, n, meanAtN: e.meanAtN, passAtN: e.passAtN, meanResponseTokens: 4 })),
      after: spec.evals.filter((e) => e.phase === "after").map((e) => ({ split: e.split, problems: 200, n, meanAtN: e.meanAtN, passAtN: e.passAtN, meanResponseTokens: 4 })),
      engine: "fixture"
    }
    writeFileSync(join(dir, "summary.json"), JSON.stringify(summary, null, 2) + "\n")
  }
  return dir
}

/** A held-out test curve: Mean@n at steps 0 (before), every 5 during, and `steps` (after). */
export const curve = (split: "test" | "ood", steps: number, meanAt: (step: number) => number): EvalSpec[] => {
  const out: EvalSpec[] = []
  for (let s = 0; s <= steps; s += 5) {
    const m = meanAt(s)
    out.push({ phase: s === 0 ? "before" : s === steps ? "after" : "during", step: s, split, meanAtN: m, passAtN: Math.min(1, m + 0.15) })
  }
  return out
}

/**
 * A comparison directory with 2 methods x 2 seeds (16-grpo and 2-grpo, 40 steps each): smooth
 * rising curves, 2-grpo 8x fewer rollouts and ~3x faster per step.
 */
export const comparison = (root = tempDir()): string => {
  for (const [method, g, stepSeconds] of [["16-grpo", 16, 3], ["2-grpo", 2, 1]] as const) {
    for (const seed of [1, 2]) {
      const steps = 40
      const bump = (seed - 1.5) * 0.01
      const acc = (s: number) => 0.2 + 0.45 * (1 - Math.exp(-s / 12)) + (s > 0 ? bump : 0)
      writeRun(join(root, `${method}-seed${seed}`), {
        method,
        seed,
        groupSize: g,
        steps,
        sftSeconds: 20,
        stepSeconds,
        reward: (s) => 0.3 + 0.4 * (1 - Math.exp(-s / 10)) + 0.05 * Math.sin(s + seed),
        fracZeroStd: (s) => (g === 2 ? 0.55 - 0.1 * Math.exp(-s / 10) : 0.1 + 0.2 * (1 - Math.exp(-s / 10))),
        evals: [...curve("test", steps, acc), ...curve("ood", steps, (s) => acc(s) * 0.6)]
      })
    }
  }
  return root
}
