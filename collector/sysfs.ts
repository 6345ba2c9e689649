/** Small synchronous readers for procfs/sysfs files (sysfs reads do not block on disk). */
import { readFileSync, readdirSync } from 'node:fs';

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** An integer file such as energy_uj; undefined if absent or not a number. */
export function readNumber(path: string): number | undefined {
  const text = readTrimmed(path);
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

export function errnoCode(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}
