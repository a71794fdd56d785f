import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url))
  if (!existsSync(`${root}/build/addon-status.json`)) {
    execFileSync(process.execPath, [`${root}/scripts/build-addon.mjs`], { stdio: "inherit" })
  }
}
