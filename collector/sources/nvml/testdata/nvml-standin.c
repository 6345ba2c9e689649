/*
 * A stand-in for libnvidia-ml.so.1 with NVML's C signatures (nvml.h), built by the tests with
 * gcc so that the collector's koffi binding loads a real shared library, declares its types and
 * calls it for real. No NVIDIA code: every function is written here from the documented API.
 *
 * Devices: NVML_STANDIN_GPUS GPUs (default 2), named "NVIDIA H100 80GB HBM3", with UUIDs
 * GPU-00000000-0000-0000-0000-00000000000<i>. GPU i draws NVML_STANDIN_WATTS_<i> watts
 * (default 100 + 50·i); its total-energy counter (mJ) advances at that power on the monotonic
 * clock from the first nvmlInit, as the driver's does.
 *
 * Power readings (nvml.h): the instantaneous power is the field value NVML_FI_DEV_POWER_INSTANT
 * (186) of nvmlDeviceGetFieldValues, in mW as an unsigned int; nvmlDeviceGetPowerUsage and
 * NVML_FI_DEV_POWER_AVERAGE (185) give the one-second average, which a test may set apart from
 * the instantaneous power with NVML_STANDIN_AVERAGE_WATTS_<i> (default: the same watts).
 * NVML_STANDIN_NO_ENERGY=1 makes the energy counter NVML_ERROR_NOT_SUPPORTED (as on GPUs before
 * Volta), NVML_STANDIN_NO_INSTANT=1 the instantaneous field (as on drivers before it); the CUDA
 * compute capability is NVML_STANDIN_CC (default "9.0", an H100). nvmlInit/nvmlShutdown are reference
 * counted like the real library's; NVML_STANDIN_LOG names a file that gets one line per call of
 * init/shutdown, so a test can see how often the library was initialised.
 *
 * Processes: NVML_STANDIN_PROCS_FILE names a file read at every call, one line per process on a
 * GPU: "<gpu> <pid> <sm util %>". nvmlDeviceGetComputeRunningProcesses_v3 lists those pids;
 * nvmlDeviceGetProcessUtilization gives one sample per process with a non-zero SM utilisation,
 * timestamped now (NVML_ERROR_NOT_FOUND when there is none since the time asked), or
 * NVML_ERROR_NOT_SUPPORTED when NVML_STANDIN_NO_PROCESS_UTIL is set (as on GPUs without it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct { unsigned long long total; unsigned long long free; unsigned long long used; } nvmlMemory_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7

typedef struct { char busIdLegacy[16]; unsigned int domain; unsigned int bus; unsigned int device; unsigned int pciDeviceId; unsigned int pciSubSystemId; char busId[32]; } nvmlPciInfo_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId; unsigned int computeInstanceId; } nvmlProcessInfo_t;
typedef struct { unsigned int pid; unsigned long long timeStamp; unsigned int smUtil; unsigned int memUtil; unsigned int encUtil; unsigned int decUtil; } nvmlProcessUtilizationSample_t;
typedef union { double dVal; unsigned int uiVal; unsigned long ulVal; unsigned long long ullVal; long long sllVal; int siVal; unsigned short usVal; } nvmlValue_t;
typedef struct { unsigned int fieldId; unsigned int scopeId; long long timestamp; long long latencyUsec; int valueType; nvmlReturn_t nvmlReturn; nvmlValue_t value; } nvmlFieldValue_t;

#define NVML_VALUE_TYPE_UNSIGNED_INT 1
#define NVML_FI_DEV_POWER_AVERAGE 185
#define NVML_FI_DEV_POWER_INSTANT 186

struct nvmlDevice_st { unsigned int index; };
static struct nvmlDevice_st devices[8];
static int refs = 0;
static double t0 = -1;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned int count(void) {
  const char *v = getenv("NVML_STANDIN_GPUS");
  int n = v ? atoi(v) : 2;
  return n < 0 ? 0 : n > 8 ? 8 : (unsigned int)n;
}

static double watts(unsigned int i) {
  char name[32];
  snprintf(name, sizeof name, "NVML_STANDIN_WATTS_%u", i);
  const char *v = getenv(name);
  return v ? atof(v) : 100.0 + 50.0 * i;
}

static double average_watts(unsigned int i) {
  char name[48];
  snprintf(name, sizeof name, "NVML_STANDIN_AVERAGE_WATTS_%u", i);
  const char *v = getenv(name);
  return v ? atof(v) : watts(i);
}

static int flag(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static void trace(const char *what) {
  const char *path = getenv("NVML_STANDIN_LOG");
  if (!path) return;
  FILE *f = fopen(path, "a");
  if (!f) return;
  fprintf(f, "%s %d\n", what, refs);
  fclose(f);
}

static nvmlReturn_t check(nvmlDevice_t d) {
  if (refs == 0) return NVML_ERROR_UNINITIALIZED;
  if (!d || d->index >= count()) return NVML_ERROR_INVALID_ARGUMENT;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) {
  if (t0 < 0) t0 = now_s();
  refs++;
  trace("init");
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  if (refs == 0) return NVML_ERROR_UNINITIALIZED;
  refs--;
  trace("shutdown");
  return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
  if (refs == 0) return NVML_ERROR_UNINITIALIZED;
  if (!n) return NVML_ERROR_INVALID_ARGUMENT;
  *n = count();
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (refs == 0) return NVML_ERROR_UNINITIALIZED;
  if (!device || index >= count()) return NVML_ERROR_INVALID_ARGUMENT;
  devices[index].index = index;
  *device = &devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  const char *n = "NVIDIA H100 80GB HBM3";
  if (!name || length < strlen(n) + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
  strcpy(name, n);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (!uuid || length < 41) return NVML_ERROR_INSUFFICIENT_SIZE;
  snprintf(uuid, length, "GPU-00000000-0000-0000-0000-%012u", d->index);
  return NVML_SUCCESS;
}

/* GPU i sits at bus 0x18 + 0x12·i (0x18, 0x2A: the addresses of the DCGM fixture's two H100s) */
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  unsigned int bus = 0x18 + 0x12 * d->index;
  memset(pci, 0, sizeof *pci);
  pci->domain = 0;
  pci->bus = bus;
  pci->device = 0;
  pci->pciDeviceId = 0x233010DE;
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", bus);
  snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", bus);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *energy) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (flag("NVML_STANDIN_NO_ENERGY")) return NVML_ERROR_NOT_SUPPORTED;
  /* mJ since the driver loaded: a large start value, then the device's power × time */
  *energy = 7000000000ULL + (unsigned long long)(watts(d->index) * (now_s() - t0) * 1000.0);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *power) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  *power = (unsigned int)(average_watts(d->index) * 1000.0);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int valuesCount, nvmlFieldValue_t *values) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (valuesCount < 0 || (valuesCount > 0 && !values)) return NVML_ERROR_INVALID_ARGUMENT;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  for (int k = 0; k < valuesCount; k++) {
    nvmlFieldValue_t *f = &values[k];
    f->timestamp = (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
    f->latencyUsec = 0;
    f->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
    f->value.ullVal = 0;
    if (f->fieldId == NVML_FI_DEV_POWER_INSTANT && !flag("NVML_STANDIN_NO_INSTANT")) {
      f->value.uiVal = (unsigned int)(watts(d->index) * 1000.0);
      f->nvmlReturn = NVML_SUCCESS;
    } else if (f->fieldId == NVML_FI_DEV_POWER_AVERAGE) {
      f->value.uiVal = (unsigned int)(average_watts(d->index) * 1000.0);
      f->nvmlReturn = NVML_SUCCESS;
    } else {
      f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
    }
  }
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (!major || !minor) return NVML_ERROR_INVALID_ARGUMENT;
  const char *v = getenv("NVML_STANDIN_CC");
  int ma = 9, mi = 0;
  if (v && sscanf(v, "%d.%d", &ma, &mi) < 1) return NVML_ERROR_INVALID_ARGUMENT;
  *major = ma;
  *minor = mi;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  u->gpu = 90 - 10 * d->index;
  u->memory = 40;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  m->total = 85899345920ULL;
  m->used = 1073741824ULL * (d->index + 1);
  m->free = m->total - m->used;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *temp) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
  *temp = 50 + d->index;
  return NVML_SUCCESS;
}

/* The processes the file lists on GPU `index`: pids and SM utilisation, at most `max`. */
static unsigned int procs_on(unsigned int index, unsigned int *pids, unsigned int *util, unsigned int max) {
  const char *path = getenv("NVML_STANDIN_PROCS_FILE");
  if (!path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  unsigned int n = 0, gpu, pid, sm;
  while (n < max && fscanf(f, "%u %u %u", &gpu, &pid, &sm) == 3) {
    if (gpu != index) continue;
    pids[n] = pid;
    util[n] = sm;
    n++;
  }
  fclose(f);
  return n;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *infoCount, nvmlProcessInfo_t *infos) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  unsigned int pids[64], util[64];
  unsigned int n = procs_on(d->index, pids, util, 64);
  if (*infoCount < n || (n > 0 && !infos)) {
    *infoCount = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  for (unsigned int i = 0; i < n; i++) {
    infos[i].pid = pids[i];
    infos[i].usedGpuMemory = 1073741824ULL;
    infos[i].gpuInstanceId = 0xFFFFFFFF;
    infos[i].computeInstanceId = 0xFFFFFFFF;
  }
  *infoCount = n;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *samples, unsigned int *count, unsigned long long lastSeen) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (getenv("NVML_STANDIN_NO_PROCESS_UTIL")) return NVML_ERROR_NOT_SUPPORTED;
  unsigned int pids[64], util[64], busy = 0;
  unsigned int n = procs_on(d->index, pids, util, 64);
  for (unsigned int i = 0; i < n; i++) if (util[i] > 0) busy++;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long now = (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
  (void)lastSeen;
  if (busy == 0) return NVML_ERROR_NOT_FOUND;
  if (!samples || *count < busy) {
    *count = busy;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  unsigned int k = 0;
  for (unsigned int i = 0; i < n; i++) {
    if (util[i] == 0) continue;
    samples[k].pid = pids[i];
    samples[k].timeStamp = now;
    samples[k].smUtil = util[i];
    samples[k].memUtil = util[i] / 2;
    samples[k].encUtil = 0;
    samples[k].decUtil = 0;
    k++;
  }
  *count = k;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *clock) {
  nvmlReturn_t rc = check(d);
  if (rc) return rc;
  if (type != 1) return NVML_ERROR_INVALID_ARGUMENT;
  *clock = 1980;
  return NVML_SUCCESS;
}
