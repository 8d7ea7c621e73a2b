// Reading the log files the harness and the extension host write: the end of one when something failed, and
// following one live so the extension host's test report appears in the terminal while the tests run.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  const all = readFileSync(file, 'utf8').split('\n');
  return all.slice(-lines).join('\n') + '\n';
}

export interface FileFollower {
  /** Copies what is left, then stops following. */
  stop(): void;
}

/** Polls `file` and hands every new chunk to `write` (the file may not exist yet). */
export function followFile(file: string, write: (chunk: string) => void, intervalMs = 200): FileFollower {
  let offset = 0;
  const pump = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size <= offset) return;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const n = readSync(fd, buf, 0, buf.length, offset);
      offset += n;
      write(buf.subarray(0, n).toString('utf8'));
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(pump, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      pump();
    },
  };
}
