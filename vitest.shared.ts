// Shared vitest settings: tests resolve sibling packages to their TypeScript sources
// (the "@duet/source" export condition), so `nx test` needs no prior build.
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@duet/source"] },
  ssr: { resolve: { conditions: ["@duet/source"] } },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks"
  }
})
