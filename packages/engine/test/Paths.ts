/**
 * The matmul paths a test file runs under: always "js" (no system library: duet's wasm SIMD
 * kernels) and "xnnpack" (the older fallback, used if those cannot load); OpenBLAS when the addon
 * loads. DUET_REQUIRE_BLAS=1 (set in CI, which installs libopenblas-dev) turns a missing addon
 * into a failure instead of a skipped path.
 */
import { loadAddon } from "../src/internal/NativeAddon.js"

export const blasPaths = (): Array<"openblas" | "js" | "xnnpack"> => {
  const load = loadAddon()
  if (!load.ok && process.env.DUET_REQUIRE_BLAS === "1") {
    throw new Error(`DUET_REQUIRE_BLAS=1 but the OpenBLAS addon is unavailable: ${load.reason}`)
  }
  return load.ok ? ["openblas", "js", "xnnpack"] : ["js", "xnnpack"]
}

/** EngineInfo.matmul for each blas choice (on this machine). */
export const matmulOf = (blas: "openblas" | "js" | "xnnpack"): string =>
  blas === "openblas" ? "openblas" : blas === "js" ? "wasm-simd" : "js-fallback"
