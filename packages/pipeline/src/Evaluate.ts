/**
 * Held-out evaluation: n samples per problem at the evaluation sampling settings, graded; reports
 * Mean@n (mean accuracy over all samples) and unbiased Pass@n (Chen et al. 2021; with k = n it is
 * the share of problems with at least one correct sample).
 */
import { Effect } from "effect"
import type { Problem } from "@duet/tasks"
import { Sampler } from "@duet/samplers"
import { Metrics } from "@duet/verifiers"
import type { Setup } from "./Setup.js"
import { grade } from "./Setup.js"

export interface EvalResult {
  readonly split: string
  readonly problems: number
  readonly n: number
  /** Mean accuracy over problems x samples, in [0, 1]. */
  readonly meanAtN: number
  /** Share of problems with >= 1 correct sample (unbiased Pass@k at k = n). */
  readonly passAtN: number
  readonly meanResponseTokens: number
}

export interface EvalSampling {
  readonly n: number
  readonly temperature: number
  readonly topP: number
  readonly topK: number
  readonly maxTokens: number
}

export const evaluate = (
  setup: Setup,
  split: string,
  problems: ReadonlyArray<Problem>,
  sampling: EvalSampling,
  seed: number,
  chunk = 512
) =>
  Effect.gen(function* () {
    const sampler = yield* Sampler.Sampler
    const rows: Array<{ problem: number; prompt: Int32Array }> = []
    problems.forEach((p, i) => {
      const ids = setup.codec.prompt(p.prompt)
      for (let j = 0; j < sampling.n; j++) rows.push({ problem: i, prompt: ids })
    })
    const correct = new Int32Array(problems.length)
    let tokens = 0
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk)
      const out = yield* sampler.sample({
        prompts: part.map((r) => r.prompt),
        maxTokens: sampling.maxTokens,
        temperature: sampling.temperature,
        topP: sampling.topP,
        topK: sampling.topK,
        stopTokens: setup.codec.stopTokens,
        seed: seed * 7919 + start
      })
      out.forEach((c, i) => {
        const row = part[i]!
        tokens += c.tokens.length
        if (grade(setup.task, setup.codec.decode(c.tokens), problems[row.problem]!)) correct[row.problem]!++
      })
      // One turn of the event loop per chunk: Ctrl-C / SIGTERM (delivered there) interrupt a long
      // evaluation within a chunk, not at its end.
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
    let mean = 0
    let pass = 0
    for (let i = 0; i < problems.length; i++) {
      mean += correct[i]! / sampling.n
      pass += Metrics.passAtK(sampling.n, correct[i]!, sampling.n)
    }
    const result: EvalResult = {
      split,
      problems: problems.length,
      n: sampling.n,
      meanAtN: mean / Math.max(1, problems.length),
      passAtN: pass / Math.max(1, problems.length),
      meanResponseTokens: tokens / Math.max(1, rows.length)
    }
    return result
  })
