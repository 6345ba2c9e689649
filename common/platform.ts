/**
 * The default `platform` tag, derived from the hardware's model names: the GPU's where there
 * is one (ML runs are compared across GPUs), else the CPU's, shortened and without spaces.
 */

export function shortCpuName(model: string): string {
  return model
    .replace(/\((R|TM|tm|r)\)/g, '')
    .replace(/@.*$/, '')
    .replace(/\b(CPU|Processor|\d+-Core)\b/gi, '')
    .replace(/\b(Intel|AMD)\b/g, '')
    .trim()
    .replace(/\s+/g, '-');
}

export function shortGpuName(name: string): string {
  return name.replace(/^NVIDIA\s+/i, '').replace(/^(GeForce|Tesla|Quadro)\s+/i, '').trim().replace(/\s+/g, '-');
}

export function derivePlatform(cpuModel: string | undefined, gpuNames: readonly string[]): string {
  if (gpuNames.length > 0) {
    const first = shortGpuName(gpuNames[0] as string);
    return gpuNames.length > 1 ? `${gpuNames.length}x${first}` : first;
  }
  return cpuModel ? shortCpuName(cpuModel) || 'unknown' : 'unknown';
}

/** `model name` (x86) or `Model`/`Hardware` (ARM) of /proc/cpuinfo. */
export function cpuModelFromCpuinfo(text: string): string | undefined {
  for (const key of ['model name', 'Model', 'Hardware', 'cpu model']) {
    const m = new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(text);
    if (m) return (m[1] as string).trim();
  }
  return undefined;
}
