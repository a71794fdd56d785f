/**
 * Matmul paths a test checks: the no-compiler path (duet's wasm SIMD kernels, "js") always, and the
 * default one, duet's native GEMM, when its addon loads (required in CI). OpenBLAS, the third path,
 * is checked kernel by kernel in @duet/engine's tests.
 */
import { Engine } from "@duet/engine"

export const blasPaths = async (): Promise<Array<"native" | "js">> => {
  try {
    await Engine.init({ threads: 1, blas: "native" })
    return ["native", "js"]
  } catch (e) {
    if (process.env.DUET_REQUIRE_BLAS === "1") throw e
    return ["js"]
  }
}
