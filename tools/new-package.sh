#!/usr/bin/env bash
# Scaffolds packages/<name> as @duet/<name> with the repo's build/typecheck/test targets.
# usage: tools/new-package.sh NAME "description" TAG [dep ...]
set -euo pipefail
name=$1; desc=$2; tag=$3; shift 3
dir=packages/$name
mkdir -p "$dir/src" "$dir/test"
deps=""
for d in "$@"; do deps="$deps\"$d\": \"*\","; done
deps="{${deps%,}}"
cat > "$dir/package.json" <<JSON
{
  "name": "@duet/$name",
  "version": "0.1.0",
  "description": "$desc",
  "type": "module",
  "license": "MIT",
  "exports": {
    ".": {
      "@duet/source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "import": "./dist/index.js"
    }
  },
  "files": ["dist"],
  "scripts": {
    "build": "tsup",
    "typecheck": "tsc --noEmit -p tsconfig.json",
    "test": "vitest run"
  },
  "dependencies": $deps,
  "nx": { "tags": ["layer:$tag"] }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "include": ["src", "test"]
}
JSON
cat > "$dir/tsup.config.ts" <<TS
import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  target: "node20",
  clean: true,
  sourcemap: true
})
TS
cat > "$dir/vitest.config.ts" <<TS
export { default } from "../../vitest.shared.js"
TS
