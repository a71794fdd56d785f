#!/usr/bin/env node
// The `duet` binary: runs the built CLI (built by `npm ci` through the root `prepare` script).
import("../dist/main.js").catch((err) => {
  if (err && err.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/main.js")) {
    console.error("duet: the CLI is not built yet; run `npm run build` at the repository root")
    process.exit(1)
  }
  throw err
})
