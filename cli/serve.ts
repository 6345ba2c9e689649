import { loadConfig } from './config.js';
import { runUntilSignal, type Command } from './command.js';

const USAGE = `Usage: wattscope serve

The API: tags runs, integrates their energy, computes scores, answers history queries, and
serves the live page. OpenAPI docs at /docs, metrics at /metrics, health at /healthz.

Configuration (environment or config file; see docs/CONFIGURATION.md):
  WATTSCOPE_API_PORT       port (default 8080)
  WATTSCOPE_API_BIND       address (default 127.0.0.1; 0.0.0.0 in a container)
  WATTSCOPE_API_TOKEN      when set, write routes need Authorization: Bearer <token>
  WATTSCOPE_RUN_TIMEOUT    minutes without heartbeat before a run is abandoned (default 30)
  WATTSCOPE_INFLUX_URL, _TOKEN, _ORG, _DB   the InfluxDB to use

SIGTERM or Ctrl-C: stops gracefully. SIGHUP is logged and otherwise ignored.`;

export const serveCommand: Command = {
  name: 'serve',
  usage: USAGE,
  async main(argv) {
    if (argv.length > 0) {
      console.error(`wattscope serve takes no arguments (got ${argv.join(' ')})\n\n${USAGE}`);
      return 2;
    }
    const { startServer } = await import('../api/server.js');
    await runUntilSignal(async () => {
      const server = await startServer(loadConfig());
      return { stop: () => server.close() };
    }, 'api');
    return 0;
  },
};
