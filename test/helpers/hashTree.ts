// A digest of a whole folder (paths, bytes, modes, symlink targets): equal digests mean byte-identical trees.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** `ignore`: workspace-relative paths left out (the CLI's own state folder, `.airlock/state`). */
export function hashTree(root: string, ignore: readonly string[] = []): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const abs = join(root, rel);
    const entries = readdirSync(abs).sort();
    for (const name of entries) {
      const r = rel ? `${rel}/${name}` : name;
      if (ignore.includes(r)) continue;
      const st = lstatSync(join(root, r));
      if (st.isSymbolicLink()) h.update(`L ${r} -> ${readlinkSync(join(root, r))}\n`);
      else if (st.isDirectory()) {
        h.update(`D ${r}\n`);
        walk(r);
      } else {
        h.update(`F ${r} ${st.mode & 0o777}\n`);
        h.update(readFileSync(join(root, r)));
      }
    }
  };
  walk('');
  return h.digest('hex');
}
