/** Test backend: stock tfjs-wasm (the engine's kernels are tested in @duet/engine). Import first. */
import * as tf from "@tensorflow/tfjs-core"
import "@tensorflow/tfjs-backend-wasm"

await tf.setBackend("wasm")
await tf.ready()

export const backend = tf.getBackend()
