/**
 * The `run` measurement: one point per run at its start time, its fields growing as the run
 * progresses (InfluxDB merges writes to the same series and timestamp). Every write repeats the
 * run's tags exactly, so a run stays one series.
 */
import { randomUUID } from 'node:crypto';
import { BASELINE, MEASUREMENT, ROLLUP, RUN, RUN_CHANGES, RUN_STATUSES, type RunKind, type RunStatus, type Sample } from '../../common/model.js';
import { anyOf, ident, iql, join, literalRegex, num as numLit, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type Row, type StatementResult } from '../../common/storage/store.js';
import { decodeRecord, encodeRecord } from '../domain/record.js';
import { RUN_COLUMNS, type Run } from '../domain/run-record.js';
import { RUN_FIELDS } from '../domain/run-fields.js';

const F = RUN_FIELDS;
const T = RUN.tags;

/** A row of `SELECT * FROM run` as a run (./../domain/run-record.ts says how each field is kept). */
export function rowToRun(row: Row): Run {
  return decodeRecord(RUN_COLUMNS, row);
}

/**
 * Which of two rows of one run_id is the run. A run whose platform was corrected is written
 * anew before its old point is deleted, so for a moment (or after a failed delete) both exist:
 * the newest revision wins. Two rows of the same revision are one start taken twice at once —
 * a retried start that two API replicas both took (../services/lifecycle.ts) — and the one that started
 * first wins, then the smaller platform: every reader in every replica picks the same row.
 */
export function preferredRow(a: Run, b: Run): Run {
  const ra = a.revised_at_ms ?? 0;
  const rb = b.revised_at_ms ?? 0;
  if (ra !== rb) return ra > rb ? a : b;
  if (a.started_at_ms !== b.started_at_ms) return a.started_at_ms < b.started_at_ms ? a : b;
  return a.platform <= b.platform ? a : b;
}

/** One run per run_id (preferredRow), in the order given. */
function newestRevisions(runs: readonly Run[]): Run[] {
  const best = new Map<string, Run>();
  for (const r of runs) {
    const seen = best.get(r.run_id);
    best.set(r.run_id, seen ? preferredRow(seen, r) : r);
  }
  return runs.filter((r) => best.get(r.run_id) === r);
}

/**
 * The run as its point: its columns (nulls left out: InfluxDB has no null, and keeps older
 * values) and the summary's figures stored for Grafana (`derived`).
 */
export function runToSample(run: Run, derived: Record<string, number | null> = {}): Sample {
  const { tags, fields, timeMs } = encodeRecord(RUN_COLUMNS, run);
  for (const [k, v] of Object.entries(derived)) if (v !== null) fields[k] = v;
  return { measurement: MEASUREMENT.run, tags, fields, timeMs };
}

/**
 * A completed baseline's entries in the `baseline` index: one per host, at the run's start.
 * Deterministic (the same points whoever writes them, as often as they are written).
 */
export function baselineIndexSamples(run: Run): Sample[] {
  if (run.kind !== 'baseline' || run.status !== 'completed') return [];
  return run.hosts.map((host) => ({ measurement: MEASUREMENT.baseline, tags: { [BASELINE.tags.host]: host }, fields: { [BASELINE.fields.runId]: run.run_id }, timeMs: run.started_at_ms }));
}

/**
 * The entries of the log of ended runs written (RUN_CHANGES) for `runs`: a run that is no longer
 * running changes what the comparison shows. Each process writes its own series (`writer`), at
 * times that never repeat within it (two entries at one time in one series would be one point,
 * and a run's change would be lost to the readers).
 */
class ChangeLog {
  private readonly writer = randomUUID().slice(0, 13);
  private lastMs = 0;

  samples(runs: readonly Run[]): Sample[] {
    return runs
      .filter((r) => r.status !== 'running')
      .map((r) => {
        this.lastMs = Math.max(Date.now(), this.lastMs + 1);
        return { measurement: MEASUREMENT.state, tags: { [ROLLUP.state.key]: RUN_CHANGES.key, [RUN_CHANGES.tags.writer]: this.writer }, fields: { [RUN_CHANGES.fields.runId]: r.run_id }, timeMs: this.lastMs };
      });
  }
}

/** Columns the comparison does not read (it reads the others of every completed run once, then only the runs changed). */
const NOT_COMPARED = new Set(['attributed', 'labels', 'clock_offsets', 'gpus', 'gpus_from', 'hosts', 'dataset', 'partial_final', 'heartbeat_at_ms', 'recompute_attempts', 'batch_size', 'avg_gpu_util_pct', 'avg_gpu_mem_pct', 'avg_cpu_pct', 'energy_host_j', 'coverage']);

export interface RunFilter {
  model?: string | undefined;
  platform?: string | undefined;
  kind?: RunKind | undefined;
  status?: RunStatus | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  /** label key → value */
  labels?: Record<string, string> | undefined;
  runIds?: readonly string[] | undefined;
  /** the runs of one series */
  seriesId?: string | undefined;
  limit: number;
  offset: number;
}

/** Whether a run (its newest revision) is one the filter asks for. */
function matches(r: Run, f: Omit<RunFilter, 'limit' | 'offset'>): boolean {
  return (
    (f.model === undefined || r.model === f.model) &&
    (f.platform === undefined || r.platform === f.platform) &&
    (f.kind === undefined || r.kind === f.kind) &&
    (f.status === undefined || r.status === f.status) &&
    (f.seriesId === undefined || r.series_id === f.seriesId) &&
    (f.fromMs === undefined || r.started_at_ms >= f.fromMs) &&
    (f.toMs === undefined || r.started_at_ms <= f.toMs) &&
    (f.runIds === undefined || f.runIds.length === 0 || f.runIds.includes(r.run_id)) &&
    Object.entries(f.labels ?? {}).every(([k, v]) => r.labels[k] === v)
  );
}

export class RunRepository {
  private readonly log = new ChangeLog();

  constructor(private readonly store: InfluxStore) {}

  async get(runId: string): Promise<Run | undefined> {
    const rows = await this.store.rows(iql`SELECT * FROM ${ident(MEASUREMENT.run)} WHERE ${ident(T.runId)} = ${str(runId)}`);
    return newestRevisions(rows.map(rowToRun))[0];
  }

  /** Every row stored under `runId` (normally one; see preferredRow). */
  async rows(runId: string): Promise<Run[]> {
    return (await this.store.rows(iql`SELECT * FROM ${ident(MEASUREMENT.run)} WHERE ${ident(T.runId)} = ${str(runId)}`)).map(rowToRun);
  }

  /** Deletes one row of a run (its tags and start time), where the store can delete. */
  async deleteRow(run: Run): Promise<void> {
    await this.store.deletePoints(MEASUREMENT.run, { [T.runId]: run.run_id, [T.model]: run.model, [T.platform]: run.platform }, run.started_at_ms, run.started_at_ms);
    if (run.status !== 'running') await this.store.write(this.log.samples([run]));
  }

  /** Whether a run's tags can be changed here (it needs a delete: InfluxDB 1.x and 2.x). */
  get canRetag(): boolean {
    return this.store.canDelete;
  }

  /**
   * The run under another platform. The platform is a tag, part of the point's identity: the
   * point is written anew under the new tag (newer revision), then the old one is deleted.
   * Nothing is lost if the delete fails: the newest revision wins until it is retried.
   */
  async retag(run: Run, platform: string, derived: Record<string, number | null>, nowMs: number): Promise<Run> {
    const revised: Run = { ...run, platform, revised_at_ms: nowMs };
    await this.save(revised, derived);
    await this.store.deletePoints(MEASUREMENT.run, { [T.runId]: run.run_id, [T.platform]: run.platform }, run.started_at_ms, run.started_at_ms);
    await this.store.write(this.log.samples([revised]));
    return revised;
  }

  /** The runs among `runIds` that exist, by run_id (for an import, which must not reuse one). */
  async getMany(runIds: readonly string[]): Promise<Map<string, Run>> {
    const statements = this.byIdsStatements(runIds);
    return this.readRuns(statements.length === 0 ? [] : await this.store.query(join(statements, '; ')));
  }

  /** `SELECT *` of the runs among `runIds`: a few hundred ids per regular expression keeps each statement small. */
  byIdsStatements(runIds: readonly string[]): InfluxQL[] {
    const ids = [...new Set(runIds)];
    const out: InfluxQL[] = [];
    for (let i = 0; i < ids.length; i += 500) out.push(iql`SELECT * FROM ${ident(MEASUREMENT.run)} WHERE ${ident(T.runId)} =~ ${anyOf(ids.slice(i, i + 500))}`);
    return out;
  }

  readRuns(results: ReadonlyArray<StatementResult | undefined>): Map<string, Run> {
    const out = new Map<string, Run>();
    for (const r of results) for (const run of newestRevisions(seriesRows(r?.series ?? []).map(rowToRun))) out.set(run.run_id, run);
    return out;
  }

  async save(run: Run, derived: Record<string, number | null> = {}): Promise<void> {
    await this.store.write([runToSample(run, derived), ...baselineIndexSamples(run), ...this.log.samples([run])]);
  }

  /**
   * Writes only `fields` of a run (and its tags and time, so that it is the same point): the
   * other fields keep what is stored, whoever wrote it. The recompute job records an attempt
   * this way when it found nothing new, so it cannot write older figures over newer ones.
   */
  async saveFields(run: Run, fields: readonly string[]): Promise<void> {
    const sample = runToSample(run);
    const keep = new Set(fields);
    await this.store.write([{ ...sample, fields: Object.fromEntries(Object.entries(sample.fields).filter(([k]) => keep.has(k))) }]);
  }

  async saveMany(runs: readonly Run[], derived: ReadonlyArray<Record<string, number | null>>): Promise<void> {
    await this.store.write([...runs.map((r, i) => runToSample(r, derived[i])), ...this.log.samples(runs)]);
  }

  /** The entries of the log of ended runs written after `sinceMs` (RUN_CHANGES), oldest first. */
  async changesSince(sinceMs: number): Promise<Array<{ entry: string; runId: string }>> {
    const rows = await this.store.rows(
      iql`SELECT ${ident(RUN_CHANGES.tags.writer)}, ${ident(RUN_CHANGES.fields.runId)} FROM ${ident(MEASUREMENT.state)} WHERE ${ident(ROLLUP.state.key)} = ${str(RUN_CHANGES.key)} AND time > ${timeMs(sinceMs)}`,
    );
    return rows.flatMap((r) => {
      const runId = r[RUN_CHANGES.fields.runId];
      return typeof r.time === 'number' && typeof runId === 'string' ? [{ entry: `${String(r[RUN_CHANGES.tags.writer] ?? '')}\u0000${r.time}`, runId }] : [];
    });
  }

  /**
   * Every completed run, with the columns the comparison reads: one statement, no order and no
   * pages (a page of `SELECT *` in time order costs a scan of every run's series).
   */
  async completed(): Promise<Run[]> {
    const columns = Object.entries(RUN_COLUMNS).filter(([k, c]) => c.place === 'field' && !NOT_COMPARED.has(k)).map(([k]) => ident(k));
    const tags = Object.entries(RUN_COLUMNS).filter(([, c]) => c.place === 'tag').map(([k]) => ident(k));
    const rows = await this.store.rows(iql`SELECT ${join([...tags, ...columns], ', ')} FROM ${ident(MEASUREMENT.run)} WHERE ${ident(F.status)} = ${str('completed')}`);
    return newestRevisions(rows.map(rowToRun));
  }

  async list(filter: RunFilter): Promise<Run[]> {
    return (await this.page(filter)).runs;
  }

  /** Every run the filter matches, page by page: no list is ever cut at a page's size. */
  async *all(filter: Omit<RunFilter, 'limit' | 'offset'>, pageSize = 1000): AsyncGenerator<Run> {
    for (let offset = 0; ; offset += pageSize) {
      const { runs, more } = await this.page({ ...filter, limit: pageSize, offset });
      yield* runs;
      if (!more) return;
    }
  }

  /**
   * One page of runs, and whether another may follow (the page was full before the exact label
   * check took out the regex's near misses: a short page is not the last one then).
   */
  async page(filter: RunFilter): Promise<{ runs: Run[]; more: boolean }> {
    const conditions: InfluxQL[] = [];
    if (filter.model !== undefined) conditions.push(iql`${ident(T.model)} = ${str(filter.model)}`);
    if (filter.platform !== undefined) conditions.push(iql`${ident(T.platform)} = ${str(filter.platform)}`);
    if (filter.kind !== undefined) conditions.push(iql`${ident(F.kind)} = ${str(filter.kind)}`);
    if (filter.status !== undefined) conditions.push(iql`${ident(F.status)} = ${str(filter.status)}`);
    if (filter.runIds !== undefined && filter.runIds.length > 0) conditions.push(iql`${ident(T.runId)} =~ ${anyOf(filter.runIds)}`);
    if (filter.seriesId !== undefined) conditions.push(iql`${ident(T.seriesId)} = ${str(filter.seriesId)}`);
    for (const [k, v] of Object.entries(filter.labels ?? {})) {
      // labels are stored as JSON with sorted keys: "k":"v" appears verbatim, followed by , or }
      conditions.push(iql`${ident(F.labels)} =~ ${literalRegex(`${JSON.stringify(k)}:${JSON.stringify(v)}`, false)}`);
    }
    // no lower bound by default: an imported run may have started before 1970 (negative epoch)
    if (filter.fromMs !== undefined) conditions.push(iql`time >= ${timeMs(filter.fromMs)}`);
    if (filter.toMs !== undefined) conditions.push(iql`time <= ${timeMs(filter.toMs)}`);
    const where = conditions.length > 0 ? iql` WHERE ${join(conditions, ' AND ')}` : iql``;
    // two steps: the page's run ids from one field in time order (every run's series is scanned,
    // so read as little of each as can be), then those runs whole, found through the index
    const ids = await this.store.rows(iql`SELECT ${ident(T.runId)}, ${ident(F.status)} FROM ${ident(MEASUREMENT.run)}${where} ORDER BY time DESC LIMIT ${numLit(filter.limit)} OFFSET ${numLit(filter.offset)}`);
    const order = [...new Set(ids.flatMap((r) => (typeof r[T.runId] === 'string' ? [r[T.runId] as string] : [])))];
    const found = await this.getMany(order);
    // each run as it is now (its newest revision) must still match; label matches are checked
    // exactly: a regex on JSON text is only the server-side prefilter
    const runs = order.flatMap((id) => {
      const run = found.get(id);
      return run && matches(run, filter) ? [run] : [];
    });
    return { runs, more: ids.length === filter.limit };
  }

  /** How many runs there are in each status (for /metrics). */
  async countByStatus(): Promise<Record<string, number>> {
    const results = await this.store.queryNamed(Object.fromEntries(RUN_STATUSES.map((st) => [st, iql`SELECT count(${ident(F.kind)}) AS n FROM ${ident(MEASUREMENT.run)} WHERE ${ident(F.status)} = ${str(st)}`])));
    return Object.fromEntries(RUN_STATUSES.map((st) => [st, Number(seriesRows(results[st]?.series ?? [])[0]?.n ?? 0)]));
  }

  /**
   * The latest completed baseline run of each of `hosts` that started before `beforeMs`, from
   * the `baseline` index: one small series per host, so the cost does not grow with the runs
   * stored (the scan of every run it replaces took seconds under load with a few thousand).
   */
  async latestBaselines(hosts: readonly string[], beforeMs: number): Promise<Map<string, Run>> {
    if (hosts.length === 0) return new Map();
    await this.indexOlderBaselines();
    const [r] = await this.store.query(this.baselineIndexStatement(hosts, beforeMs));
    const byHost = this.readBaselineIndex(r);
    return this.baselinesOf(byHost, await this.getMany([...byHost.values()]), beforeMs);
  }

  /** The index's newest baseline run_id per host before `beforeMs` (run indexOlderBaselines first). */
  baselineIndexStatement(hosts: readonly string[], beforeMs: number): InfluxQL {
    return iql`SELECT last(${ident(BASELINE.fields.runId)}) AS id FROM ${ident(MEASUREMENT.baseline)} WHERE ${ident(BASELINE.tags.host)} =~ ${anyOf(hosts)} AND time < ${timeMs(beforeMs)} GROUP BY ${ident(BASELINE.tags.host)}`;
  }

  readBaselineIndex(r: StatementResult | undefined): Map<string, string> {
    const byHost = new Map<string, string>();
    for (const row of seriesRows(r?.series ?? [])) {
      const host = row[BASELINE.tags.host];
      if (typeof row.id === 'string' && typeof host === 'string') byHost.set(host, row.id);
    }
    return byHost;
  }

  /** The baselines the index names, where they are what it says (completed, started before the run). */
  baselinesOf(byHost: ReadonlyMap<string, string>, runs: ReadonlyMap<string, Run>, beforeMs: number): Map<string, Run> {
    const out = new Map<string, Run>();
    for (const [host, id] of byHost) {
      const run = runs.get(id);
      if (run && run.kind === 'baseline' && run.status === 'completed' && run.started_at_ms < beforeMs) out.set(host, run);
    }
    return out;
  }

  private indexed: Promise<void> | undefined;


  /**
   * Baselines stored before the index existed are indexed once per process, at the first
   * lookup: one read of every run, then idempotent writes (the same points from every replica).
   */
  indexOlderBaselines(): Promise<void> {
    this.indexed ??= (async () => {
      const rows = await this.store.rows(iql`SELECT * FROM ${ident(MEASUREMENT.run)} WHERE ${ident(F.kind)} = ${str('baseline')} AND ${ident(F.status)} = ${str('completed')}`);
      const samples = newestRevisions(rows.map(rowToRun)).flatMap(baselineIndexSamples);
      if (samples.length > 0) await this.store.write(samples);
    })().catch((e: unknown) => {
      this.indexed = undefined;
      throw e;
    });
    return this.indexed;
  }
}
