/**
 * GET /api/workload: a host's energy over any time range, beside what its serving engines did in
 * it — the same window reads as a run's (its power points and workload points, summed on the
 * server and prorated at the edges), without a run.
 */
import { expectedSources } from '../domain/arrival.js';
import { windowEnergy } from '../domain/energy.js';
import { windowWork, workloadReport, type WorkloadReport } from '../domain/workload.js';
import type { HostRepository } from '../repo/hosts.js';
import type { PowerRepository } from '../repo/power.js';
import type { WorkloadRepository } from '../repo/workload.js';

export class WorkloadReads {
  constructor(
    private readonly power: PowerRepository,
    private readonly workload: WorkloadRepository,
    private readonly hosts: HostRepository,
  ) {}

  async range(host: string, t0: number, t1: number): Promise<WorkloadReport> {
    const [records, power, work] = await Promise.all([this.hosts.during([host], t0, t1), this.power.window([host], t0, t1), this.workload.window([host], t0, t1)]);
    const energy = windowEnergy(power.series, t0, t1, expectedSources(records));
    return workloadReport(host, t0, t1, energy, windowWork(work, t0, t1));
  }
}
