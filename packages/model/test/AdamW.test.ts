import { describe, expect, it } from "vitest"
import * as tf from "@tensorflow/tfjs-core"
import * as AdamW from "../src/AdamW.js"
import "./backend.js"

// float32 state: values near 1 carry ~6e-8 relative rounding per op; 1e-6 covers a few steps.
const near = (a: ArrayLike<number>, b: number[], tol = 1e-6) => b.forEach((x, i) => expect(Math.abs(a[i]! - x), `[${i}] ${a[i]} vs ${x}`).toBeLessThan(tol))

describe("AdamW", () => {
  it("matches torch.optim.AdamW's update, worked by hand for two steps", () => {
    // p = [1, -2] (a matrix, so it decays), g = [0.5, -0.25] both steps, lr 0.1, wd 0.01.
    // Step 1: m = 0.1 g, v = 0.001 g^2, so m/(1-b1) = g and sqrt(v/(1-b2)) = |g|: the step is lr sign(g).
    //   p1 = 0.999 p - 0.1 sign(g) = [0.899, -1.898]
    // Step 2: m = 0.9*0.1g + 0.1g = 0.19g, v = (0.999*0.001 + 0.001) g^2 = 0.001999 g^2: again lr sign(g).
    //   p2 = 0.999 p1 - 0.1 sign(g) = [0.798101, -1.796102]
    const params = new Map([["w.weight", tf.variable(tf.tensor2d([[1, -2]]))]])
    const state = AdamW.init(params)
    const config = AdamW.makeConfig({ lr: 0.1, weightDecay: 0.01, maxGradNorm: null })
    const g = new Map([["w.weight", tf.tensor2d([[0.5, -0.25]])]])
    AdamW.apply(params, g, state, config)
    near(params.get("w.weight")!.dataSync(), [0.899, -1.898])
    near(state.m.get("w.weight")!.dataSync(), [0.05, -0.025], 1e-8)
    near(state.v.get("w.weight")!.dataSync(), [0.00025, 0.0000625], 1e-9)
    AdamW.apply(params, g, state, config)
    near(params.get("w.weight")!.dataSync(), [0.798101, -1.796102])
    expect(state.step).toBe(2)
    AdamW.dispose(state)
    tf.dispose([...params.values(), ...g.values()])
  })

  it("clips by global norm like clip_grad_norm_ and skips decay for biases", () => {
    // grads [3] and [4]: global norm 5; maxGradNorm 1 scales them by 1/(5 + 1e-6).
    const params = new Map([
      ["a.bias", tf.variable(tf.tensor1d([2]))],
      ["b.bias", tf.variable(tf.tensor1d([2]))]
    ])
    const state = AdamW.init(params)
    const grads = new Map([
      ["a.bias", tf.tensor1d([3])],
      ["b.bias", tf.tensor1d([4])]
    ])
    const { gradNorm } = AdamW.apply(params, grads, state, AdamW.makeConfig({ lr: 0.1, weightDecay: 0.5, maxGradNorm: 1 }))
    expect(gradNorm).toBeCloseTo(5, 5)
    const c = 1 / (5 + 1e-6)
    near(state.m.get("a.bias")!.dataSync(), [0.1 * 3 * c], 1e-8)
    near(state.m.get("b.bias")!.dataSync(), [0.1 * 4 * c], 1e-8)
    near(params.get("a.bias")!.dataSync(), [1.9]) // no decay on a bias: 2 - 0.1
    AdamW.dispose(state)
    tf.dispose([...params.values(), ...grads.values()])
  })

  it("rejects bad hyperparameters and unknown gradients, naming them", () => {
    expect(() => AdamW.makeConfig({ beta2: 1 })).toThrow(/AdamW.beta2/)
    expect(() => AdamW.makeConfig({ maxGradNorm: 0 })).toThrow(/AdamW.maxGradNorm/)
    const params = new Map([["w.weight", tf.variable(tf.tensor2d([[1]]))]])
    const state = AdamW.init(params)
    const g = new Map([["nope", tf.tensor2d([[1]])]])
    expect(() => AdamW.apply(params, g, state, AdamW.defaultConfig)).toThrow(/grads.nope/)
    AdamW.dispose(state)
    tf.dispose([...params.values(), ...g.values()])
  })
})
