/**
 * A small structured logger for every process: one line per event on stderr,
 * `time level message key=value…`. Secrets never reach it: values of keys that name a
 * token, password or authorization are replaced, and so is any configured secret that
 * appears inside a message.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /token|password|secret|authorization/i;

const secrets = new Set<string>();
const onceKeys = new Set<string>();
let threshold: LogLevel = parseLevel(process.env.WATTSCOPE_LOG_LEVEL);
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');
// a daemon whose terminal went away (EIO, EPIPE on stderr) goes on without its log lines,
// instead of dying of an unhandled 'error' event
process.stderr.on('error', () => undefined);

function parseLevel(value: string | undefined): LogLevel {
  return value === 'debug' || value === 'warn' || value === 'error' ? value : 'info';
}

/** Registers a secret so that it is masked wherever it would appear in a log line. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Redirects log lines (tests read them from here). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

function format(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

function emit(level: LogLevel, component: string, message: string, fields: Record<string, unknown> = {}): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const parts = [new Date().toISOString(), level.toUpperCase().padEnd(5), `[${component}]`, message];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${SECRET_KEY.test(key) ? '***' : format(value)}`);
  }
  sink(redact(parts.join(' ')));
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Logs at most once per key for the life of the process (a sensor that keeps failing). */
  once(key: string, level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export function logger(component: string): Logger {
  return {
    debug: (m, f) => emit('debug', component, m, f),
    info: (m, f) => emit('info', component, m, f),
    warn: (m, f) => emit('warn', component, m, f),
    error: (m, f) => emit('error', component, m, f),
    once: (key, level, m, f) => {
      const k = `${component}:${key}`;
      if (onceKeys.has(k)) return;
      onceKeys.add(k);
      emit(level, component, m, f);
    },
  };
}
