#!/usr/bin/env node
// Writes the duet checkpoint the HF-export test exports: a 2-layer GPT over a char alphabet with
// every parameter drawn at scale (std 0.3 around GPT-2's init; LayerNorm gains around 1, biases
// non-zero) so the logits differ clearly between tokens and a wrong mapping cannot hide.
// usage: node tools/ecosystem/make_export_checkpoint.mjs [DIR]  (default: the test's fixture folder)
import { Rng } from "@duet/core"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"
import { tf } from "@duet/engine"

const dir = process.argv[2] ?? new URL("../../packages/pipeline/test/fixtures/hf-export/checkpoint", import.meta.url).pathname
await Engine.init({ threads: 1 })
const alphabet = "\n +-0123456789="
const tokenizer = Tokenizer.CharTokenizer.fromAlphabet(alphabet)
const config = Gpt.makeConfig({ vocabSize: tokenizer.vocabSize, blockSize: 24, nLayer: 2, nHead: 2, nEmbd: 16 })
const rng = Rng.seeded(15)
const params = new Map(
  Gpt.parameterShapes(config).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1)
    const gain = /ln_[12f]\.weight$/.test(name) ? 1 : 0
    const data = Float32Array.from({ length: n }, () => gain + 0.3 * rng.normal())
    return [name, tf.variable(tf.tensor(data, shape))]
  })
)
await Checkpoint.save(dir, { config, params, tokenizer, meta: { step: 0, stop: "\n", note: "fixture for the HF export test" } })
console.log(`wrote ${dir}: ${Gpt.parameterCount(config)} parameters, alphabet ${JSON.stringify(alphabet)}`)
