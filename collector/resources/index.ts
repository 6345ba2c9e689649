/**
 * What several sources share, owned once for the collector's life and handed to them: the NVML
 * binding (loaded and initialised once; every later discovery reuses it) and the nvidia-smi
 * process (started once; a rediscovery every minute finds it running). Each is loaded only on a
 * host that has it (koffi where libnvidia-ml is present, child_process where nvidia-smi is). The sources never
 * close them: the collector does, at exit.
 */
import type { Logger } from '../../common/log.js';
import type { Config } from '../../common/config.js';
import { optionValue } from '../../common/option-value.js';
import { loadNvml, NVML_LIBRARY, NVML_MODE, type NvmlApi } from './nvml.js';
import type { SmiStream } from './nvidia-smi.js';

export class SharedResources {
  private nvmlApi: NvmlApi | undefined;
  private stream: SmiStream | undefined;

  constructor(
    private readonly log: Logger,
    /** the NVML binding (tests hand recorded values through here) */
    private readonly load: (library: string) => NvmlApi | undefined = loadNvml,
  ) {}

  /**
   * NVML, or undefined when it is off, not on this machine, or will not start (then tried
   * again at the next discovery: a driver may be loaded later).
   */
  nvml(config: Config): NvmlApi | undefined {
    if (optionValue(config, NVML_MODE) === 'off') return undefined;
    if (this.nvmlApi) return this.nvmlApi;
    try {
      this.nvmlApi = this.load(optionValue(config, NVML_LIBRARY));
    } catch (e) {
      // the library is there but will not start (driver not loaded, version mismatch)
      this.log.once('nvml-init', 'warn', 'libnvidia-ml is present but NVML did not initialise; is the NVIDIA driver loaded? Falling back to nvidia-smi if it works', { error: e });
    }
    return this.nvmlApi;
  }

  /**
   * The nvidia-smi stream at this period, started on first use and kept. Its module (and node's
   * child_process with it) is loaded only here: a host without the tool never loads it.
   */
  async smi(bin: string, periodMs: number): Promise<SmiStream> {
    if (this.stream && (this.stream.bin !== bin || this.stream.periodMs !== periodMs || this.stream.closedForGood)) {
      this.stream.close();
      this.stream = undefined;
    }
    if (!this.stream) {
      const { SmiStream } = await import('./nvidia-smi.js');
      this.stream ??= new SmiStream(bin, periodMs, this.log);
    }
    return this.stream;
  }

  /** An nvidia-smi that found no GPU is not kept: the next discovery tries again. */
  dropSmi(): void {
    this.stream?.close();
    this.stream = undefined;
  }

  close(): void {
    this.nvmlApi?.shutdown();
    this.nvmlApi = undefined;
    this.dropSmi();
  }
}
