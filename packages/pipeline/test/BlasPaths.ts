/** Matmul paths a test checks: pure JS always; OpenBLAS when its addon loads (required in CI). */
import { Engine } from "@duet/engine"

export const blasPaths = async (): Promise<Array<"openblas" | "js">> => {
  try {
    await Engine.init({ threads: 1, blas: "openblas" })
    return ["openblas", "js"]
  } catch (e) {
    if (process.env.DUET_REQUIRE_BLAS === "1") throw e
    return ["js"]
  }
}
