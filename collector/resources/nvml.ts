/**
 * The thin seam between the NVML source and libnvidia-ml.so.1: `NvmlApi` is what the source
 * needs; `loadNvml()` binds it through koffi (an FFI with prebuilt binaries, no install script),
 * and tests feed recorded NVML values through their own `NvmlApi`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { OptionSpec } from '../../common/config.js';

/** NVML's options: the nvml source declares them (their docs are its); nvidia-smi, the fallback, reads them too. */
export const NVML_MODE = { key: 'collector.nvml', env: 'WATTSCOPE_NVML', kind: 'string', default: 'auto', doc: '`auto` loads libnvidia-ml.so.1 when present; `off` disables NVML (and nvidia-smi is used if it is installed).' } as const satisfies OptionSpec;
export const NVML_LIBRARY = { key: 'collector.nvmlLibrary', env: 'WATTSCOPE_NVML_LIBRARY', kind: 'string', default: 'libnvidia-ml.so.1', doc: 'Path or soname of the NVML library.' } as const satisfies OptionSpec;

export const NVML_SUCCESS = 0;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_NOT_FOUND = 6;
export const NVML_ERROR_INSUFFICIENT_SIZE = 7;
export const NVML_ERROR_GPU_IS_LOST = 15;
/** NVML's "unknown function" for a symbol an older driver does not have */
export const NVML_ERROR_FUNCTION_NOT_FOUND = 13;

export class NvmlError extends Error {
  override name = 'NvmlError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface NvmlApi {
  deviceCount(): number;
  name(index: number): string;
  /** mJ since the driver was loaded (Volta and newer); undefined where not supported */
  totalEnergyMj(index: number): number | undefined;
  /**
   * mW, NVML's power reading `nvmlDeviceGetPowerUsage`: a one-second average on Ampere and newer
   * (GA100 excepted), instantaneous before; on A100/H100 it also sees only part of each 100 ms
   */
  powerMw(index: number): number | undefined;
  /**
   * mW, the instantaneous power field value (`NVML_FI_DEV_POWER_INSTANT`, field 186, through
   * nvmlDeviceGetFieldValues); undefined where the driver or the GPU does not give it
   */
  powerInstantMw?(index: number): number | undefined;
  /** CUDA compute capability (`nvmlDeviceGetCudaComputeCapability`): 9.0 for an H100; undefined where not supported */
  computeCapability?(index: number): number | undefined;
  utilization(index: number): { gpu: number; memory: number } | undefined;
  memory(index: number): { used: number; total: number } | undefined;
  temperatureC(index: number): number | undefined;
  smClockMhz(index: number): number | undefined;
  /** `GPU-…` (the id CUDA_VISIBLE_DEVICES may name); undefined where not supported */
  uuid?(index: number): string | undefined;
  /** the GPU's PCI address (`00000000:18:00.0`): what other readers of the same board also know */
  pciBusId?(index: number): string | undefined;
  /** processes with a compute context on the GPU; undefined where not supported */
  computeProcesses?(index: number): number[] | undefined;
  /** per-process SM utilisation samples since `sinceUs` (µs since the epoch); undefined where not supported */
  processUtilization?(index: number, sinceUs: number): Array<{ pid: number; smUtil: number; timeStampUs: number }> | undefined;
  shutdown(): void;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

/** Where the dynamic loader looks: LD_LIBRARY_PATH, ld.so.conf(.d), the usual library folders. */
function libraryDirs(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const confs = ['/etc/ld.so.conf', ...(existsSync('/etc/ld.so.conf.d') ? readdirSync('/etc/ld.so.conf.d').map((f) => join('/etc/ld.so.conf.d', f)) : [])];
  for (const conf of confs) {
    try {
      for (const line of readFileSync(conf, 'utf8').split('\n')) if (line.startsWith('/')) dirs.push(line.trim());
    } catch {
      // an unreadable conf file names no folder
    }
  }
  return [...dirs, '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/usr/local/nvidia/lib64', '/usr/local/nvidia/lib', '/usr/lib/wsl/lib'];
}

/** Whether the library can be found without loading anything (the FFI is only loaded when it can). */
export function nvmlPresent(library: string): boolean {
  if (library.includes('/')) return existsSync(library);
  return libraryDirs().some((d) => existsSync(join(d, library)));
}

type Koffi = typeof import('koffi');
type Fn = (...args: unknown[]) => unknown;

/** The library's functions, bound once per process and library path. */
interface NvmlFunctions {
  init: Fn;
  shutdown: Fn;
  errorString: Fn;
  getCount: Fn;
  getHandle: Fn;
  getName: Fn;
  getUuid: Fn;
  getEnergy: Fn;
  getPower: Fn;
  getUtil: Fn;
  getMemory: Fn;
  getTemp: Fn;
  getClock: Fn;
  /** absent from drivers older than the _v3 API */
  getProcesses: Fn | undefined;
  getPci: Fn | undefined;
  getProcessUtil: Fn | undefined;
  getFieldValues: Fn | undefined;
  getComputeCapability: Fn | undefined;
}

/** nvmlFieldValue_t: fieldId u32, scopeId u32, timestamp i64, latencyUsec i64, valueType i32, nvmlReturn i32, value (union, 8 bytes) */
const FIELD_VALUE_BYTES = 40;
/** NVML_FI_DEV_POWER_INSTANT (nvml.h): the current GPU power in mW, on all architectures */
export const NVML_FI_DEV_POWER_INSTANT = 186;

/** A field value's number by its nvmlValueType_t (double, uint, ulong, ulonglong, sll, sint, ushort). */
function fieldNumber(buf: Buffer, at: number): number | undefined {
  const type = buf.readInt32LE(at + 24);
  const v = at + 32;
  switch (type) {
    case 0:
      return buf.readDoubleLE(v);
    case 1:
      return buf.readUInt32LE(v);
    case 2:
    case 3:
      return Number(buf.readBigUInt64LE(v));
    case 4:
      return Number(buf.readBigInt64LE(v));
    case 5:
      return buf.readInt32LE(v);
    case 6:
      return buf.readUInt16LE(v);
    default:
      return undefined;
  }
}

/** A function an older driver may not export: undefined then, instead of failing the binding. */
function optionalFunc(lib: ReturnType<Koffi['load']>, prototype: string): Fn | undefined {
  try {
    return lib.func(prototype);
  } catch {
    return undefined;
  }
}

/** nvmlProcessInfo_t (v3): pid u32, usedGpuMemory u64, gpuInstanceId u32, computeInstanceId u32 */
const PROCESS_INFO_BYTES = 24;
/** nvmlProcessUtilizationSample_t: pid u32, timeStamp u64, smUtil, memUtil, encUtil, decUtil u32 */
const UTIL_SAMPLE_BYTES = 32;
/** nvmlPciInfo_t: busIdLegacy[16], domain, bus, device, pciDeviceId, pciSubSystemId (u32), busId[32] */
const PCI_INFO_BYTES = 68;
const PCI_BUS_ID_AT = 36;

let koffiTypesDeclared = false;
const boundLibraries = new Map<string, NvmlFunctions | undefined>();

/**
 * koffi keeps named types process-wide and refuses to declare one twice ("Duplicate type name"),
 * and rediscovery loads NVML every minute: the types are declared once, and each library's
 * functions are bound once and reused (nvmlInit/nvmlShutdown are reference-counted by NVML).
 */
function bind(library: string): NvmlFunctions | undefined {
  if (boundLibraries.has(library)) return boundLibraries.get(library);
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as Koffi;
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(library);
  } catch {
    return undefined; // not cached: a library installed later (driver install) is found next time
  }
  if (!koffiTypesDeclared) {
    // named types, referred to by name in the prototypes below
    koffi.pointer('nvmlDevice_t', koffi.opaque());
    koffi.struct('nvmlUtilization_t', { gpu: 'unsigned int', memory: 'unsigned int' });
    koffi.struct('nvmlMemory_t', { total: 'unsigned long long', free: 'unsigned long long', used: 'unsigned long long' });
    koffiTypesDeclared = true;
  }
  const fns: NvmlFunctions = {
    init: lib.func('int nvmlInit_v2()'),
    shutdown: lib.func('int nvmlShutdown()'),
    errorString: lib.func('const char *nvmlErrorString(int result)'),
    getCount: lib.func('int nvmlDeviceGetCount_v2(_Out_ unsigned int *count)'),
    getHandle: lib.func('int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ nvmlDevice_t *device)'),
    getName: lib.func('int nvmlDeviceGetName(nvmlDevice_t device, _Out_ uint8_t *name, unsigned int length)'),
    getUuid: lib.func('int nvmlDeviceGetUUID(nvmlDevice_t device, _Out_ uint8_t *uuid, unsigned int length)'),
    getEnergy: lib.func('int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, _Out_ unsigned long long *energy)'),
    getPower: lib.func('int nvmlDeviceGetPowerUsage(nvmlDevice_t device, _Out_ unsigned int *power)'),
    getUtil: lib.func('int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, _Out_ nvmlUtilization_t *utilization)'),
    getMemory: lib.func('int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, _Out_ nvmlMemory_t *memory)'),
    getTemp: lib.func('int nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, _Out_ unsigned int *temp)'),
    getClock: lib.func('int nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, _Out_ unsigned int *clock)'),
    // arrays of structs come back in Buffers, read by offset (x86-64 layout, see below)
    getPci: optionalFunc(lib, 'int nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, uint8_t *pci)'),
    getProcesses: optionalFunc(lib, 'int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, _Inout_ unsigned int *count, uint8_t *infos)'),
    getProcessUtil: optionalFunc(lib, 'int nvmlDeviceGetProcessUtilization(nvmlDevice_t device, uint8_t *samples, _Inout_ unsigned int *count, unsigned long long lastSeenTimeStamp)'),
    getFieldValues: optionalFunc(lib, 'int nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, uint8_t *values)'),
    getComputeCapability: optionalFunc(lib, 'int nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, _Out_ int *major, _Out_ int *minor)'),
  };
  boundLibraries.set(library, fns);
  return fns;
}

/**
 * Initialises NVML through the library (bound once per process) and returns the API; undefined
 * when the library is not on this machine. Each call initialises NVML once more, and the
 * returned API's shutdown() releases that one initialisation.
 */
export function loadNvml(library: string): NvmlApi | undefined {
  if (!nvmlPresent(library)) return undefined;
  const fns = bind(library);
  if (!fns) return undefined;
  const { init, shutdown, errorString, getCount, getHandle, getName, getUuid, getEnergy, getPower, getUtil, getMemory, getTemp, getClock, getProcesses, getProcessUtil, getPci, getFieldValues, getComputeCapability } = fns;

  const check = (rc: number, what: string): boolean => {
    if (rc === NVML_SUCCESS) return true;
    if (rc === NVML_ERROR_NOT_SUPPORTED) return false;
    throw new NvmlError(rc, `${what}: ${String(errorString(rc))} (NVML error ${rc})`);
  };
  check(init() as number, 'nvmlInit');
  let initialised = true;
  const handles = new Map<number, unknown>();
  const fieldBuffers = new Map<number, Buffer>();
  const handle = (index: number): unknown => {
    let h = handles.get(index);
    if (h === undefined) {
      const out: unknown[] = [null];
      check(getHandle(index, out) as number, `nvmlDeviceGetHandleByIndex(${index})`);
      h = out[0];
      handles.set(index, h);
    }
    return h;
  };
  const scalar = (fn: (h: unknown, out: number[]) => number, index: number, what: string): number | undefined => {
    const out = [0];
    return check(fn(handle(index), out), what) ? Number(out[0]) : undefined;
  };
  return {
    deviceCount() {
      const out = [0];
      check(getCount(out) as number, 'nvmlDeviceGetCount');
      return Number(out[0]);
    },
    name(index) {
      const buf = Buffer.alloc(96);
      check(getName(handle(index), buf, buf.length) as number, 'nvmlDeviceGetName');
      return cString(buf);
    },
    uuid(index) {
      // NVML_DEVICE_UUID_V2_BUFFER_SIZE
      const buf = Buffer.alloc(96);
      return check(getUuid(handle(index), buf, buf.length) as number, 'nvmlDeviceGetUUID') ? cString(buf) : undefined;
    },
    totalEnergyMj: (i) => scalar((h, o) => getEnergy(h, o) as number, i, 'nvmlDeviceGetTotalEnergyConsumption'),
    powerMw: (i) => scalar((h, o) => getPower(h, o) as number, i, 'nvmlDeviceGetPowerUsage'),
    powerInstantMw(i) {
      if (!getFieldValues) return undefined;
      // one buffer per GPU, reused: this runs at the sample rate
      let buf = fieldBuffers.get(i);
      if (!buf) fieldBuffers.set(i, (buf = Buffer.alloc(FIELD_VALUE_BYTES)));
      buf.fill(0);
      buf.writeUInt32LE(NVML_FI_DEV_POWER_INSTANT, 0);
      if (!check(getFieldValues(handle(i), 1, buf) as number, 'nvmlDeviceGetFieldValues')) return undefined;
      const rc = buf.readInt32LE(28);
      if (rc === NVML_ERROR_NOT_SUPPORTED) return undefined;
      if (!check(rc, 'nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)')) return undefined;
      return fieldNumber(buf, 0);
    },
    computeCapability(i) {
      if (!getComputeCapability) return undefined;
      const major = [0];
      const minor = [0];
      return check(getComputeCapability(handle(i), major, minor) as number, 'nvmlDeviceGetCudaComputeCapability') ? Number(major[0]) + Number(minor[0]) / 10 : undefined;
    },
    utilization(i) {
      const out: { gpu?: number; memory?: number } = {};
      return check(getUtil(handle(i), out) as number, 'nvmlDeviceGetUtilizationRates') ? { gpu: Number(out.gpu), memory: Number(out.memory) } : undefined;
    },
    memory(i) {
      const out: { used?: number | bigint; total?: number | bigint } = {};
      return check(getMemory(handle(i), out) as number, 'nvmlDeviceGetMemoryInfo') ? { used: Number(out.used), total: Number(out.total) } : undefined;
    },
    pciBusId(i) {
      if (!getPci) return undefined;
      const buf = Buffer.alloc(PCI_INFO_BYTES);
      return check(getPci(handle(i), buf) as number, 'nvmlDeviceGetPciInfo_v3') ? cString(buf.subarray(PCI_BUS_ID_AT)) : undefined;
    },
    computeProcesses(i) {
      if (!getProcesses) return undefined;
      for (let room = 16; ; room *= 4) {
        const count = [room];
        const buf = Buffer.alloc(room * PROCESS_INFO_BYTES);
        const rc = getProcesses(handle(i), count, buf) as number;
        if (rc === NVML_ERROR_INSUFFICIENT_SIZE && room < 4096) continue;
        if (!check(rc, 'nvmlDeviceGetComputeRunningProcesses_v3')) return undefined;
        return Array.from({ length: Number(count[0]) }, (_, k) => buf.readUInt32LE(k * PROCESS_INFO_BYTES));
      }
    },
    processUtilization(i, sinceUs) {
      if (!getProcessUtil) return undefined;
      const count = [0];
      let rc = getProcessUtil(handle(i), null, count, BigInt(Math.floor(sinceUs))) as number;
      if (rc === NVML_ERROR_NOT_FOUND) return []; // no sample since then: nothing ran
      if (rc !== NVML_ERROR_INSUFFICIENT_SIZE && !check(rc, 'nvmlDeviceGetProcessUtilization')) return undefined;
      const n = Number(count[0]);
      if (n === 0) return [];
      const buf = Buffer.alloc(n * UTIL_SAMPLE_BYTES);
      rc = getProcessUtil(handle(i), buf, count, BigInt(Math.floor(sinceUs))) as number;
      if (rc === NVML_ERROR_NOT_FOUND) return [];
      if (!check(rc, 'nvmlDeviceGetProcessUtilization')) return undefined;
      return Array.from({ length: Number(count[0]) }, (_, k) => ({
        pid: buf.readUInt32LE(k * UTIL_SAMPLE_BYTES),
        timeStampUs: Number(buf.readBigUInt64LE(k * UTIL_SAMPLE_BYTES + 8)),
        smUtil: buf.readUInt32LE(k * UTIL_SAMPLE_BYTES + 16),
      }));
    },
    temperatureC: (i) => scalar((h, o) => getTemp(h, 0, o) as number, i, 'nvmlDeviceGetTemperature'),
    smClockMhz: (i) => scalar((h, o) => getClock(h, 1, o) as number, i, 'nvmlDeviceGetClockInfo'),
    shutdown() {
      // one shutdown per init: NVML counts them, and a second would end another user's session
      if (initialised) shutdown();
      initialised = false;
    },
  };
}
