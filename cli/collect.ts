import { loadConfig } from './config.js';
import { runUntilSignal, type Command } from './command.js';

const USAGE = `Usage: wattscope collect

The collector daemon: reads CPU, memory, disk, network, RAPL, hwmon and GPU sensors, integrates
power at the edge and writes to InfluxDB through an on-disk spool. Serves /metrics and /healthz.

Configuration (environment, or the config file named by WATTSCOPE_CONFIG; all options with their
defaults are in collector/sample-config.json and docs/CONFIGURATION.md):
  WATTSCOPE_INFLUX_URL, _TOKEN, _ORG, _DB    where to write (default http://127.0.0.1:8086, db wattscope)
  WATTSCOPE_PROCFS_ROOT, WATTSCOPE_SYSFS_ROOT   sensor roots (default /proc, /sys)
  WATTSCOPE_SAMPLE_HZ                           power sample rate (default 10)
  WATTSCOPE_REPORT_INTERVAL_S                   one point per source per interval (default 1)
  WATTSCOPE_COLLECTOR_PORT                      /metrics and /healthz port (default 9101)
  WATTSCOPE_SPOOL_DIR, WATTSCOPE_SPOOL_MAX_BYTES   spool location and bound

SIGTERM or Ctrl-C: the last interval is written and the spool flushed before exit. SIGHUP is
logged and otherwise ignored (nothing to reload: the configuration is read at start).`;

export const collectCommand: Command = {
  name: 'collect',
  usage: USAGE,
  async main(argv) {
    if (argv.length > 0) {
      console.error(`wattscope collect takes no arguments (got ${argv.join(' ')}); it is configured by the environment\n\n${USAGE}`);
      return 2;
    }
    // loaded here, not at the top: `wattscope` starts only the code of the command it runs
    const { startCollector } = await import('../collector/daemon.js');
    await runUntilSignal(() => startCollector(loadConfig()), 'collector');
    return 0;
  },
};
