/**
 * The matmul paths a test file runs under: always the pure-JS fallback; OpenBLAS when the addon
 * loads. DUET_REQUIRE_BLAS=1 (set in CI, which installs libopenblas-dev) turns a missing addon
 * into a failure instead of a skipped path.
 */
import { loadAddon } from "../src/internal/NativeAddon.js"

export const blasPaths = (): Array<"openblas" | "js"> => {
  const load = loadAddon()
  if (!load.ok && process.env.DUET_REQUIRE_BLAS === "1") {
    throw new Error(`DUET_REQUIRE_BLAS=1 but the OpenBLAS addon is unavailable: ${load.reason}`)
  }
  return load.ok ? ["openblas", "js"] : ["js"]
}
