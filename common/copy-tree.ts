/**
 * Copies a folder as a machine has it: links within it (sysfs' class → devices) stay links, links
 * that lead out of it (a fixture host's files linked from a source's testdata) become the files
 * themselves. For the fixture hosts, copied by tests and benchmarks before they rewrite counters.
 */
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Copies `from` (followed) to `to`; a link whose target, seen from its place in the copy, stays inside `root` is kept as a link. */
export function copyTree(from: string, to: string, root: string = to): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (lstatSync(src).isSymbolicLink()) {
      const target = readlinkSync(src);
      const rel = relative(root, resolve(dirname(dst), target));
      const inside = rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
      if (inside) {
        symlinkSync(target, dst);
        continue;
      }
    }
    if (statSync(src).isDirectory()) copyTree(src, dst, root);
    else copyFileSync(src, dst);
  }
}
