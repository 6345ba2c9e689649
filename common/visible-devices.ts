/** GPU scope as CUDA reads it from the environment (shared by the CLI and the API's checks). */

/**
 * The GPUs of CUDA_VISIBLE_DEVICES or NVIDIA_VISIBLE_DEVICES, as CUDA reads them: a comma list
 * of indices or UUIDs, read up to the first entry that is neither; `all` (NVIDIA) is every GPU
 * (null), empty, `none`, `void` or -1 is no GPU ([]). Unset: undefined.
 */
export function visibleDevices(value: string | undefined): string[] | null | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === 'all') return null;
  if (v === '' || v === 'none' || v === 'void') return [];
  const out: string[] = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    if (/^\d+$/.test(part) || /^(GPU|MIG)-[0-9a-fA-F-]+$/.test(part)) out.push(part);
    else break; // CUDA stops at the first invalid entry (-1 included)
  }
  return out;
}

/** A run's GPUs from the environment of its command: CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES. */
export function scopeFromEnv(env: NodeJS.ProcessEnv): { gpus: string[] | null; from: 'CUDA_VISIBLE_DEVICES' | 'NVIDIA_VISIBLE_DEVICES' } | undefined {
  for (const name of ['CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES'] as const) {
    const gpus = visibleDevices(env[name]);
    if (gpus !== undefined) return { gpus, from: name };
  }
  return undefined;
}
