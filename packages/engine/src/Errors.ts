/**
 * Typed errors of the engine. Plain classes with a `_tag` (no `effect` in tensor packages), so
 * Effect code can fail with them and match on `_tag`.
 */

/** Install hints, one per optional backend (shown in `BackendUnavailableError`). */
export const installHints = {
  "tfjs-node":
    "npm install @tensorflow/tfjs-node@4.22.0 (its install script downloads libtensorflow 2.9 for CPU " +
    "from storage.googleapis.com, so it needs network access at install time)",
  "tfjs-node-gpu":
    "npm install @tensorflow/tfjs-node-gpu@4.22.0 (Linux x86-64 with an NVIDIA GPU; needs CUDA 11.2 and " +
    "cuDNN 8.1 on the library path, and downloads libtensorflow 2.9 GPU at install time)",
  openblas:
    "apt-get install libopenblas-dev g++ (or your platform's OpenBLAS and a C++ compiler), then " +
    "`npm run build:addon -w @duet/engine` (or reinstall)",
  native:
    "a C++ compiler (g++ or clang++; apt-get install g++) and Node's headers, then " +
    "`npm run build:addon -w @duet/engine` (or reinstall)"
} as const

/** A backend (or the OpenBLAS matmul) was asked for and cannot be used here. */
export class BackendUnavailableError extends Error {
  readonly _tag = "BackendUnavailableError" as const
  constructor(
    /** What was asked for: "tfjs-node", "tfjs-node-gpu", "wasm", "cpu", "native" or "openblas". */
    readonly backend: string,
    /** Why it is unavailable. */
    readonly reason: string,
    /** The command (and requirements) that would make it available. */
    readonly installHint: string,
    options?: { cause?: unknown }
  ) {
    super(`backend ${backend} is unavailable: ${reason}. To use it: ${installHint}`, options)
    this.name = "BackendUnavailableError"
  }
}
