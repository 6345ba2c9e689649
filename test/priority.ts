/**
 * Processes that play hardware or serve the suite (a counter rewritten every millisecond, the
 * suite's influxd) run ahead of the suite's own work where permitted (root, as CI is): a busy
 * test file must not make the "hardware" late or the database slow. Elsewhere they run at the
 * suite's priority. Kept apart from ./helpers.ts, which imports vitest, for the global setup.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Whether `pid` leads a session of its own (started detached), from /proc/<pid>/stat. */
function leadsSession(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid pgrp session …: comm may hold spaces and parentheses
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    return session === pid;
  } catch {
    return false;
  }
}

/**
 * Nice −10 for `pid`. Where the kernel groups the scheduler by session (autogroup, Linux's
 * default on desktops and on this VM), a nice counts only inside the session's group: a process
 * that leads a session of its own gets its group's nice set too — beside two busy loops the
 * suite's detached influxd, at nice −10 alone, took up to 9.9 s to answer a /ping. A process in
 * the suite's own session keeps its group's nice (that would raise the whole suite).
 */
export function aheadOfTheSuite(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, -10);
    if (leadsSession(pid)) writeFileSync(`/proc/${pid}/autogroup`, '-10');
  } catch {
    // not permitted (or no autogroup): it runs at the suite's priority
  }
}
