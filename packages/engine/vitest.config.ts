import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// Builds the OpenBLAS addon first when the npm install script never ran (e.g. scripts disabled),
// so the BLAS path is tested wherever OpenBLAS is installed.
export default mergeConfig(shared, defineConfig({ test: { globalSetup: ["./test/globalSetup.ts"] } }))
