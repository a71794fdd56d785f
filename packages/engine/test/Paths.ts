/**
 * The matmul paths a test file runs under: always "js" (no compiler or system library: duet's wasm
 * SIMD kernels) and "xnnpack" (the older fallback, used if those cannot load); "native" (duet's
 * own GEMM) and "openblas" when their addons load. DUET_REQUIRE_BLAS=1 (set in CI, which installs
 * g++ and libopenblas-dev) turns a missing addon into a failure instead of a skipped path.
 */
import { loadAddon } from "../src/internal/NativeAddon.js"

export type BlasPath = "native" | "openblas" | "js" | "xnnpack"

export const blasPaths = (): Array<BlasPath> => {
  const addons = (["native", "openblas"] as const).filter((kind) => {
    const load = loadAddon(kind)
    if (!load.ok && process.env.DUET_REQUIRE_BLAS === "1") {
      throw new Error(`DUET_REQUIRE_BLAS=1 but the ${kind} addon is unavailable: ${load.reason}`)
    }
    return load.ok
  })
  return [...addons, "js", "xnnpack"]
}

/** EngineInfo.matmul for each blas choice (on this machine). */
export const matmulOf = (blas: BlasPath): string =>
  blas === "native" ? "duet-gemm" : blas === "openblas" ? "openblas" : blas === "js" ? "wasm-simd" : "js-fallback"
