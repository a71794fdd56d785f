/**
 * Test backend: wasm with duet's kernels (OpenBLAS when the addon is built, else the JS matmul), as
 * users run it. Import first. The kernels themselves are tested against stock in @duet/engine.
 */
import { Engine } from "@duet/engine"

export const engine = await Engine.init({ backend: "wasm" })
