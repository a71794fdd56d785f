/** Test fixtures: tiny configs and policies whose every parameter (biases, gains too) is random. */
import * as tf from "@tensorflow/tfjs-core"
import { Rng } from "@duet/core"
import * as Gpt from "../src/Gpt.js"
import type { Weights } from "./reference.js"

export const tinyConfig = Gpt.makeConfig({ vocabSize: 11, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16 })

/** A policy with N(0, std) in every parameter, gains around 1, so no term of the model is trivial. */
export const randomPolicy = (config: Gpt.GptConfig, seed: number, std = 0.3): Gpt.Policy => {
  const rng = Rng.seeded(seed)
  const tensors = new Map<string, tf.Tensor>()
  for (const [name, shape] of Gpt.parameterShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1)
    const gain = /\.ln_(\d|f)\.weight$/.test(name) ? 1 : 0
    tensors.set(name, tf.tensor(Float32Array.from({ length: n }, () => gain + std * rng.normal()), shape))
  }
  const policy = Gpt.fromParams(config, tensors)
  for (const t of tensors.values()) t.dispose()
  return policy
}

export const weightsOf = (policy: Gpt.Policy): Map<string, Float32Array> =>
  new Map([...policy.params].map(([name, p]) => [name, p.dataSync() as Float32Array]))

export const randomTokens = (rng: Rng, n: number, vocab: number): Int32Array => Int32Array.from({ length: n }, () => rng.int(vocab))

export type { Weights }
