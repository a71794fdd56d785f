/**
 * duet's RL update against TRL's, differentially: the fixture holds what PyTorch + transformers +
 * TRL's GRPO loss compute from the same initial weights (Gpt.init, seed 7) and the same batch —
 * log-probs, advantages, loss and grad norm for three AdamW steps on one batch (num_iterations=3, so
 * steps 2 and 3 are off-policy and the PPO clip is live), and every parameter after the last step.
 * Written by tools/trl-diff/make_fixture.py (see docs/training.md, "Checked against TRL").
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { AdvantageTransform, Scores } from "@duet/core"
import { Engine, tf } from "@duet/engine"
import { grpo } from "@duet/estimators"
import { ppoClip, seqMeanTokenMean, tokenMean } from "@duet/losses"
import { Gpt } from "@duet/model"
import { Update } from "../src/index.js"
import { blasPaths } from "./BlasPaths.js"

interface Fixture {
  config: Gpt.GptConfig
  seed: number
  prompts: number[][]
  completions: number[][]
  rewards: number[]
  groups: number[]
  oldLogprobs: number[][]
  advantages: number[]
  settings: Array<{
    trlLossType: string
    aggregation: "seq-mean-token-mean" | "token-mean"
    lr: number
    weightDecay: number
    maxGradNorm: number
    epsLow: number
    epsHigh: number
    steps: Array<{ loss: number; gradNorm: number; clipFracLow: number; clipFracHigh: number }>
    paramsAfter: Record<string, number[]>
  }>
}

const fixture = JSON.parse(readFileSync(new URL("./fixtures/trl-reference.json", import.meta.url), "utf8")) as Fixture


const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

describe("duet's update equals TRL's GRPO update (fixture from PyTorch + TRL)", async () => {
  const prompts = fixture.prompts.map((p) => Int32Array.from(p))
  const completions = fixture.completions.map((c) => Int32Array.from(c))

  it("advantages: TRL's scale_rewards='group' is duet's grpo({ eps: 1e-4, std: 'unbiased' })", () => {
    const adv = AdvantageTransform.apply(grpo({ eps: 1e-4, std: "unbiased" }), Scores.make(fixture.rewards, fixture.groups)).values
    expect(maxAbsDiff(adv, fixture.advantages)).toBeLessThan(1e-6)
  })

  for (const blas of await blasPaths()) {
    for (const setting of fixture.settings) {
      for (const skip of [false, true]) {
        it(`${blas}: TRL loss_type=${setting.trlLossType} (duet ${setting.aggregation}), zero-advantage skip ${skip}`, async () => {
          await Engine.init({ threads: 1, blas })
          const policy = Gpt.init(fixture.config, fixture.seed)
          try {
            // old log-probs: duet's own forward of the initial policy, which must equal torch's
            const old = tf.tidy(() => policy.sequenceLogprobs(prompts, completions).logprobs.arraySync())
            const oldLogprobs = completions.map((c, i) => Float32Array.from(old[i]!.slice(0, c.length)))
            oldLogprobs.forEach((row, i) => expect(maxAbsDiff(row, fixture.oldLogprobs[i]!)).toBeLessThan(2e-5))
            const opt = Update.makeOptimizer(policy, { lr: setting.lr, weightDecay: setting.weightDecay, maxGradNorm: setting.maxGradNorm })
            const loss = ppoClip({
              epsLow: setting.epsLow,
              epsHigh: setting.epsHigh,
              dualClip: false, // TRL has no dual clip
              aggregation: setting.aggregation === "token-mean" ? tokenMean : seqMeanTokenMean
            })
            const advantages = Float64Array.from(fixture.advantages)
            setting.steps.forEach((ref, step) => {
              const r = Update.rlStep(policy, opt, setting.lr, loss, { prompts, completions, oldLogprobs, advantages }, skip)
              expect(Math.abs(r.loss - ref.loss), `step ${step} loss`).toBeLessThan(2e-5)
              expect(Math.abs(r.gradNorm - ref.gradNorm) / ref.gradNorm, `step ${step} grad norm`).toBeLessThan(1e-4)
              // clip fractions are over the rows computed; without skipping that is the whole batch, as TRL's
              if (!skip) {
                expect(r.metrics.clipFracLow!, `step ${step} clipFracLow`).toBeCloseTo(ref.clipFracLow, 6)
                expect(r.metrics.clipFracHigh!, `step ${step} clipFracHigh`).toBeCloseTo(ref.clipFracHigh, 6)
              }
            })
            // Every parameter after three steps. Key biases are left out: their gradient is exactly 0 in
            // exact arithmetic (softmax ignores a per-query constant), so both tools update them by
            // rounding noise that Adam's normalisation scales up to the learning rate.
            for (const [name, v] of policy.params) {
              if (name.endsWith(".attn.c_k.bias")) continue
              const diff = maxAbsDiff(v.dataSync() as Float32Array, setting.paramsAfter[name]!)
              expect(diff, name).toBeLessThan(2e-4)
            }
          } finally {
            policy.dispose()
          }
        })
      }
    }
  }
})
