/**
 * Which GPUs a run used (pure). A run names its GPUs as CUDA does — indices or UUIDs (or UUID
 * prefixes), from CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES or given — and the hosts'
 * records map them to the collectors' GPU indices. The run's energy counts those GPUs and every
 * other in-total source of its hosts (CPU, DRAM, the rest); the other GPUs are listed apart.
 * No scope: every GPU.
 *
 * CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML in PCI order: on a
 * machine with different GPU models an index can name another GPU than NVML's; UUIDs are exact.
 */
import type { HostRecord, HostSource } from '../../common/host-record.js';

export interface ResolvedScope {
  /** per host, the GPU indices in the run; absent host: every GPU */
  indices: Map<string, Set<number>>;
  /** scope entries no record could map (a UUID the host does not have, an index past its GPUs) */
  unresolved: string[];
}

const PER_GPU = /^(?:nvml|nvidia-smi|dcgm)\/(\d+)$/;

/** The GPU index a source measures: from the host record, else from a per-GPU source's id. */
export function gpuOf(host: string, source: string, records: ReadonlyMap<string, HostRecord>): number | undefined {
  const listed = records.get(host)?.sources.find((s: HostSource) => s.id === source);
  if (listed?.gpu !== undefined) return listed.gpu;
  const m = PER_GPU.exec(source);
  return m ? Number(m[1]) : undefined;
}

export function resolveScope(asked: readonly string[] | null, hosts: readonly string[], records: ReadonlyMap<string, HostRecord>): ResolvedScope {
  const indices = new Map<string, Set<number>>();
  if (asked === null) return { indices, unresolved: [] };
  const unresolved = new Set<string>();
  for (const host of hosts) {
    const gpus = records.get(host)?.gpus ?? [];
    const set = new Set<number>();
    for (const entry of asked) {
      if (/^\d+$/.test(entry)) {
        const index = Number(entry);
        if (gpus.length > 0 && !gpus.some((g) => g.index === index)) unresolved.add(entry);
        else set.add(index);
        continue;
      }
      // a UUID, or a unique prefix of one, as CUDA_VISIBLE_DEVICES takes it
      const matches = gpus.filter((g) => g.uuid !== undefined && g.uuid.toLowerCase().startsWith(entry.toLowerCase()));
      if (matches.length === 1) set.add((matches[0] as { index: number }).index);
      else unresolved.add(entry);
    }
    indices.set(host, set);
  }
  return { indices, unresolved: [...unresolved] };
}

/** Whether a source counts in the run: every source but the GPUs outside its scope. */
export function inScope(host: string, source: string, domain: string, scope: ResolvedScope, records: ReadonlyMap<string, HostRecord>): boolean {
  const set = scope.indices.get(host);
  if (set === undefined || domain !== 'gpu') return true;
  const gpu = gpuOf(host, source, records);
  // a GPU that cannot be told by index (an AMD board on hwmon) is not one CUDA's scope names
  return gpu !== undefined && set.has(gpu);
}
