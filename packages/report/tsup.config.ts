import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  target: "node20",
  clean: true,
  sourcemap: true,
  // A dev dependency loaded on demand (Report.snapshot, Browser): never bundle it.
  external: ["playwright-core"]
})
