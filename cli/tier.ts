/**
 * V8's tiers for a command, set by bin/wattscope.js before anything else is loaded (a flag set
 * once modules are compiled saves nothing: measured). No imports but node's own, so that this
 * module is all that runs before it.
 *
 * The collector does well under a millisecond of work a second on its defaults: V8's optimising
 * compilers (Maglev, TurboFan) cost it more than they save — about 3.5 MB of resident memory
 * (their code, paged in from the node binary, and what they make) and compiles on background
 * threads (bench/README.md). `wattscope collect` runs on the interpreter and the baseline
 * compiler, unless node was started with a tiering flag of its own.
 */
import { setFlagsFromString } from 'node:v8';

const TIERING_FLAG = /^--(no-)?(max-opt|opt|turbofan|maglev|sparkplug|jitless|always-turbofan)(=|$)/;

/** Sets V8's tiers for the command line `argv` (the words after `wattscope`); true where it set any. */
export function tiersFor(argv: readonly string[], execArgv: readonly string[] = process.execArgv): boolean {
  if (argv[0] !== 'collect' || execArgv.some((a) => TIERING_FLAG.test(a))) return false;
  setFlagsFromString('--max-opt=1');
  return true;
}
