/**
 * Terminal reporter for long work: on a TTY one status line rewritten in place, elsewhere (CI, a
 * pipe) at most one status line every few seconds, so logs stay readable.
 */
import type { Reporter } from "@duet/pipeline"

export const terminal = (stream: NodeJS.WriteStream = process.stderr, everySeconds = 5): Reporter & { done(): void } => {
  const tty = stream.isTTY === true
  let last = 0
  let open = false
  const clear = () => {
    if (tty && open) stream.write("\r\x1b[2K")
    open = false
  }
  return {
    progress: (line) => {
      if (tty) {
        const width = (stream.columns ?? 120) - 1
        stream.write(`\r\x1b[2K${line.slice(0, width)}`)
        open = true
        return
      }
      const now = Date.now()
      if (now - last >= everySeconds * 1000) {
        stream.write(line + "\n")
        last = now
      }
    },
    log: (line) => {
      clear()
      stream.write(line + "\n")
    },
    done: clear
  }
}
